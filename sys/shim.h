/* Non-inline entry points for DPDK's static inline hot-path functions, which bindgen cannot bind. */
#ifndef VIGIL_SHIM_H
#define VIGIL_SHIM_H
#include <stdint.h>
struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

uint16_t vigil_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t vigil_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *vigil_pktmbuf_alloc(struct rte_mempool *mp);
int vigil_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned n);
void vigil_pktmbuf_free(struct rte_mbuf *m);
void vigil_pktmbuf_free_bulk(struct rte_mbuf **pkts, unsigned n);
uint8_t *vigil_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t vigil_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t vigil_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t vigil_pktmbuf_nb_segs(const struct rte_mbuf *m);
uint16_t vigil_pktmbuf_tailroom(const struct rte_mbuf *m);
/* Appends len bytes to a single-segment mbuf; returns the start of the new room, or NULL. */
uint8_t *vigil_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
void vigil_pktmbuf_reset(struct rte_mbuf *m);
void *vigil_mbuf_to_priv(struct rte_mbuf *m);
uint16_t vigil_mbuf_priv_size(const struct rte_mbuf *m);
uint32_t vigil_mbuf_rss_hash(const struct rte_mbuf *m);
unsigned vigil_ring_sp_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned n, unsigned *free_space);
unsigned vigil_ring_sc_dequeue_burst(struct rte_ring *r, void **objs, unsigned n, unsigned *available);
unsigned vigil_ring_count(const struct rte_ring *r);
unsigned vigil_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned n);
unsigned vigil_lcore_id(void);
uint64_t vigil_rdtsc(void);
void vigil_prefetch0(const void *p);
void vigil_pause(void);
int vigil_errno(void);
/* Chains tail behind head (rte_pktmbuf_chain); 0 or a negative errno. */
int vigil_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
struct rte_mbuf *vigil_pktmbuf_next(const struct rte_mbuf *m);
/* Values of DPDK macros that bindgen cannot evaluate. */
uint64_t vigil_rss_hf_ip(void);
uint64_t vigil_rx_offload_rss_hash(void);
unsigned vigil_max_lcore(void);
unsigned vigil_max_ethports(void);
uint16_t vigil_mbuf_default_buf_size(void);
#endif
