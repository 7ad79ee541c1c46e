//! Ethernet ports: configured with rx/tx queues, started, polled per queue; stopped and
//! closed on drop. Ports come from the EAL arguments (a PCI NIC, `net_af_packet`, `net_pcap`,
//! `net_ring`, `net_null`), so the same code runs everywhere.
use super::{Burst, DpdkError, Mempool, BURST_SIZE};
use std::ffi::CStr;
use std::fmt;
use std::sync::Arc;

/// An ethdev port id. `Debug` prints `port0`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u16);

impl fmt::Debug for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port{}", self.0)
    }
}
impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How to set a port up.
#[derive(Clone, Debug)]
pub struct PortConfig {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Spread rx over the queues with a symmetric IP-pair RSS hash.
    pub rss: bool,
    pub promiscuous: bool,
}

/// Counters of one port, from `rte_eth_stats_get`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct PortStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub rx_nombuf: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_errors: u64,
}

/// Facts about a port before it is configured.
#[derive(Clone, Debug)]
pub struct PortInfo {
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub rss_offloads: u64,
}

/// A started port. Shared by `Arc` between the lcores that poll its queues; each queue must
/// be polled by one lcore only (the pipeline assigns them).
pub struct Port {
    id: PortId,
    name: String,
    rx_queues: u16,
    tx_queues: u16,
    _pool: Arc<Mempool>,
}

/// Symmetric RSS key (0x6d5a repeated): both directions of an IP pair hash alike.
static SYMMETRIC_RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
    0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a,
];

impl Port {
    /// Ports the EAL arguments created, in id order.
    pub fn available() -> Vec<PortId> {
        let mut out = Vec::new();
        // SAFETY: iterates ethdev's port table; valid after EAL init.
        let mut p = unsafe { dpdk_sys::rte_eth_find_next(0) };
        // SAFETY: returns a build constant.
        let max = unsafe { dpdk_sys::vigil_max_ethports() };
        while (p as u32) < max {
            out.push(PortId(p));
            // SAFETY: as above.
            p = unsafe { dpdk_sys::rte_eth_find_next(p + 1) };
        }
        out
    }

    pub fn name_of(id: PortId) -> String {
        let mut buf = [0 as std::os::raw::c_char; 64];
        // SAFETY: buf has room for RTE_ETH_NAME_MAX_LEN (64) bytes including NUL.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_name_by_port(id.0, buf.as_mut_ptr()) };
        if ret != 0 {
            return id.to_string();
        }
        // SAFETY: on success buf holds a NUL-terminated name.
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
    }

    pub fn info(id: PortId) -> Result<PortInfo, DpdkError> {
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-parameter for the call.
        let ret = unsafe { dpdk_sys::rte_eth_dev_info_get(id.0, &mut info) };
        if ret != 0 {
            return Err(DpdkError::from_ret(format!("rte_eth_dev_info_get({id})"), ret));
        }
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: driver_name is a static NUL-terminated string owned by the driver.
            unsafe { CStr::from_ptr(info.driver_name) }.to_string_lossy().into_owned()
        };
        Ok(PortInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            rss_offloads: info.flow_type_rss_offloads,
        })
    }

    /// Configures queues on `pool`, and starts the port.
    pub fn start(id: PortId, cfg: &PortConfig, pool: Arc<Mempool>) -> Result<Port, DpdkError> {
        let name = Port::name_of(id);
        let info = Port::info(id)?;
        let mut conf = dpdk_sys::rte_eth_conf::default();
        // SAFETY (no unsafe here): plain field writes to a local struct.
        let mut key = SYMMETRIC_RSS_KEY;
        if cfg.rss && cfg.rx_queues > 1 {
            conf.rxmode.mq_mode = dpdk_sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            // SAFETY: reads constants computed by DPDK macros.
            let hf = unsafe { dpdk_sys::vigil_rss_hf_ip() } & info.rss_offloads;
            conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
            conf.rx_adv_conf.rss_conf.rss_key_len = key.len() as u8;
            conf.rx_adv_conf.rss_conf.rss_hf = hf;
        }
        // SAFETY: conf is valid for the call; DPDK copies the RSS key during configure.
        let ret = unsafe { dpdk_sys::rte_eth_dev_configure(id.0, cfg.rx_queues, cfg.tx_queues, &conf) };
        if ret != 0 {
            return Err(DpdkError::from_ret(
                format!("rte_eth_dev_configure({name}, {} rx / {} tx queues)", cfg.rx_queues, cfg.tx_queues),
                ret,
            ));
        }
        let (mut rxd, mut txd) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: rxd/txd are valid in/out parameters.
        let ret = unsafe { dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id.0, &mut rxd, &mut txd) };
        if ret != 0 {
            return Err(DpdkError::from_ret(format!("rte_eth_dev_adjust_nb_rx_tx_desc({name})"), ret));
        }
        // SAFETY: queries the socket of a valid port.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(id.0) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        for q in 0..cfg.rx_queues {
            // SAFETY: default rxconf (NULL), a live pool that outlives the port (held in self).
            let ret =
                unsafe { dpdk_sys::rte_eth_rx_queue_setup(id.0, q, rxd, socket, std::ptr::null(), pool.as_ptr()) };
            if ret != 0 {
                return Err(DpdkError::from_ret(format!("rte_eth_rx_queue_setup({name}, queue {q})"), ret));
            }
        }
        for q in 0..cfg.tx_queues {
            // SAFETY: default txconf (NULL).
            let ret = unsafe { dpdk_sys::rte_eth_tx_queue_setup(id.0, q, txd, socket, std::ptr::null()) };
            if ret != 0 {
                return Err(DpdkError::from_ret(format!("rte_eth_tx_queue_setup({name}, queue {q})"), ret));
            }
        }
        // SAFETY: the port is configured with all its queues.
        let ret = unsafe { dpdk_sys::rte_eth_dev_start(id.0) };
        if ret != 0 {
            return Err(DpdkError::from_ret(format!("rte_eth_dev_start({name})"), ret));
        }
        if cfg.promiscuous {
            // SAFETY: a started port; failure (unsupported) is harmless and ignored.
            unsafe { dpdk_sys::rte_eth_promiscuous_enable(id.0) };
        }
        Ok(Port { id, name, rx_queues: cfg.rx_queues, tx_queues: cfg.tx_queues, _pool: pool })
    }

    pub fn id(&self) -> PortId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn rx_queues(&self) -> u16 {
        self.rx_queues
    }
    pub fn tx_queues(&self) -> u16 {
        self.tx_queues
    }

    /// Receives up to the free room of `burst` from `queue`; returns how many arrived.
    #[inline]
    pub fn rx_burst(&self, queue: u16, burst: &mut Burst) -> usize {
        let room = BURST_SIZE - burst.len;
        if room == 0 || queue >= self.rx_queues {
            return 0;
        }
        // SAFETY: ptrs[len..] has room for `room` pointers; received mbufs become owned by
        // the burst. The caller's lcore is the only poller of this queue (pipeline invariant).
        let n = unsafe {
            dpdk_sys::vigil_eth_rx_burst(self.id.0, queue, burst.ptrs.as_mut_ptr().add(burst.len), room as u16)
        } as usize;
        burst.len += n;
        n
    }

    /// Sends the burst on `queue`; what the driver did not take stays in the burst.
    #[inline]
    pub fn tx_burst(&self, queue: u16, burst: &mut Burst) -> usize {
        if burst.len == 0 || queue >= self.tx_queues {
            return 0;
        }
        // SAFETY: the first len pointers are owned mbufs; the driver takes ownership of the
        // first `n` it reports sent. One lcore per tx queue (pipeline invariant).
        let n = unsafe { dpdk_sys::vigil_eth_tx_burst(self.id.0, queue, burst.ptrs.as_mut_ptr(), burst.len as u16) }
            as usize;
        burst.consume_front(n);
        n
    }

    pub fn stats(&self) -> PortStats {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: s is a valid out-parameter; stats reads are safe from any thread.
        let ret = unsafe { dpdk_sys::rte_eth_stats_get(self.id.0, &mut s) };
        if ret != 0 {
            return PortStats::default();
        }
        PortStats {
            rx_packets: s.ipackets,
            rx_bytes: s.ibytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            rx_nombuf: s.rx_nombuf,
            tx_packets: s.opackets,
            tx_bytes: s.obytes,
            tx_errors: s.oerrors,
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // SAFETY: dropped after every lcore polling it has returned (pipeline teardown).
        unsafe {
            dpdk_sys::rte_eth_dev_stop(self.id.0);
            dpdk_sys::rte_eth_dev_close(self.id.0);
        }
    }
}
