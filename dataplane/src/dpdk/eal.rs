//! The Environment Abstraction Layer: one per process, initialised from the EAL arguments and
//! cleaned up on drop; lcore enumeration and launching closures on worker lcores.
use super::DpdkError;
use std::ffi::{c_void, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

static EAL_UP: AtomicBool = AtomicBool::new(false);

/// An EAL logical core id. `Debug` prints `lcore3`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LcoreId(pub u32);

impl fmt::Debug for LcoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lcore{}", self.0)
    }
}
impl fmt::Display for LcoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The initialised EAL. Dropping it calls `rte_eal_cleanup`.
pub struct Eal {
    _private: (),
}

type LaunchFn = Box<dyn FnOnce() -> i32 + Send + 'static>;

unsafe extern "C" fn trampoline(arg: *mut c_void) -> i32 {
    // SAFETY: arg is the Box<LaunchFn> leaked by `Eal::launch`, handed over exactly once.
    let f: Box<LaunchFn> = unsafe { Box::from_raw(arg as *mut LaunchFn) };
    // A panic must not unwind into C: it becomes exit code -1 of the lcore.
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        eprintln!("vigil-dp: a worker lcore panicked; its work stopped");
        -1
    })
}

impl Eal {
    /// Initialises the EAL with `args` (without the program name). Only one EAL may exist.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if EAL_UP.swap(true, Ordering::SeqCst) {
            return Err(DpdkError {
                op: "rte_eal_init".into(),
                code: 114,
                reason: "EAL already initialised in this process".into(),
            });
        }
        let mut owned: Vec<CString> = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("vigil-dp").unwrap_or_default());
        for a in args {
            match CString::new(a.as_str()) {
                Ok(c) => owned.push(c),
                Err(_) => {
                    EAL_UP.store(false, Ordering::SeqCst);
                    return Err(DpdkError {
                        op: "rte_eal_init".into(),
                        code: 22,
                        reason: format!("EAL argument {a:?} contains a NUL byte"),
                    });
                }
            }
        }
        let mut argv: Vec<*mut std::os::raw::c_char> = owned.iter().map(|c| c.as_ptr() as *mut _).collect();
        argv.push(std::ptr::null_mut());
        // SAFETY: argv is a NULL-terminated array of valid C strings that outlive the call
        // (EAL may permute the array, which is ours to lose; it keeps no pointer to it after
        // init except into `owned`, which we leak below for the life of the process).
        let ret = unsafe { dpdk_sys::rte_eal_init(owned.len() as i32, argv.as_mut_ptr()) };
        if ret < 0 {
            EAL_UP.store(false, Ordering::SeqCst);
            return Err(DpdkError::from_ret("rte_eal_init", ret));
        }
        // EAL may keep pointers into argv strings (e.g. for --file-prefix): keep them alive.
        std::mem::forget(owned);
        Ok(Eal { _private: () })
    }

    /// The lcore this thread runs on.
    pub fn current_lcore() -> LcoreId {
        // SAFETY: reads a thread-local; no preconditions.
        LcoreId(unsafe { dpdk_sys::vigil_lcore_id() })
    }

    /// Worker lcores (all enabled lcores but the main one), in order.
    pub fn worker_lcores(&self) -> Vec<LcoreId> {
        let mut out = Vec::new();
        // SAFETY: plain queries of EAL's lcore configuration, valid after init.
        let max = unsafe { dpdk_sys::vigil_max_lcore() };
        let mut i = unsafe { dpdk_sys::rte_get_next_lcore(u32::MAX, 1, 0) };
        while i < max {
            out.push(LcoreId(i));
            // SAFETY: as above.
            i = unsafe { dpdk_sys::rte_get_next_lcore(i, 1, 0) };
        }
        out
    }

    /// Runs `f` on the worker lcore `lcore`; its return value comes back from [`Eal::wait`].
    pub fn launch<F>(&self, lcore: LcoreId, f: F) -> Result<(), DpdkError>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        let boxed: Box<LaunchFn> = Box::new(Box::new(f));
        let arg = Box::into_raw(boxed) as *mut c_void;
        // SAFETY: trampoline takes ownership of arg exactly once; if the launch fails the
        // closure never runs, so we take it back.
        let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lcore.0) };
        if ret != 0 {
            // SAFETY: the launch failed, so arg was not handed to the lcore.
            drop(unsafe { Box::from_raw(arg as *mut LaunchFn) });
            return Err(DpdkError::from_ret(format!("rte_eal_remote_launch on {lcore}"), ret));
        }
        Ok(())
    }

    /// Waits for the closure on `lcore` to return, and gives its return value.
    pub fn wait(&self, lcore: LcoreId) -> i32 {
        // SAFETY: waits on an lcore id that EAL knows; blocks the caller only.
        unsafe { dpdk_sys::rte_eal_wait_lcore(lcore.0) }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: every DPDK object is owned by values the caller dropped before the Eal
        // (the pipeline holds them in that order); cleanup releases hugepage/runtime files.
        unsafe { dpdk_sys::rte_eal_cleanup() };
    }
}
