/* See shim.h. Every function is a one-line forward to a DPDK static inline. */
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_prefetch.h>
#include <rte_pause.h>
#include "shim.h"

uint16_t vigil_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) { return rte_eth_rx_burst(port, queue, pkts, n); }
uint16_t vigil_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) { return rte_eth_tx_burst(port, queue, pkts, n); }
struct rte_mbuf *vigil_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }
int vigil_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned n) { return rte_pktmbuf_alloc_bulk(mp, pkts, n); }
void vigil_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
void vigil_pktmbuf_free_bulk(struct rte_mbuf **pkts, unsigned n) { rte_pktmbuf_free_bulk(pkts, n); }
uint8_t *vigil_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, uint8_t *); }
uint16_t vigil_pktmbuf_data_len(const struct rte_mbuf *m) { return rte_pktmbuf_data_len(m); }
uint32_t vigil_pktmbuf_pkt_len(const struct rte_mbuf *m) { return rte_pktmbuf_pkt_len(m); }
uint16_t vigil_pktmbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }
uint16_t vigil_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
uint8_t *vigil_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return (uint8_t *)rte_pktmbuf_append(m, len); }
void vigil_pktmbuf_reset(struct rte_mbuf *m) { rte_pktmbuf_reset(m); }
void *vigil_mbuf_to_priv(struct rte_mbuf *m) { return rte_mbuf_to_priv(m); }
uint16_t vigil_mbuf_priv_size(const struct rte_mbuf *m) { return m->priv_size; }
uint32_t vigil_mbuf_rss_hash(const struct rte_mbuf *m) { return (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) ? m->hash.rss : 0; }
unsigned vigil_ring_sp_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned n, unsigned *free_space) { return rte_ring_sp_enqueue_burst(r, objs, n, free_space); }
unsigned vigil_ring_sc_dequeue_burst(struct rte_ring *r, void **objs, unsigned n, unsigned *available) { return rte_ring_sc_dequeue_burst(r, objs, n, available); }
unsigned vigil_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }
unsigned vigil_lcore_id(void) { return rte_lcore_id(); }
uint64_t vigil_rdtsc(void) { return rte_rdtsc(); }
void vigil_prefetch0(const void *p) { rte_prefetch0(p); }
void vigil_pause(void) { rte_pause(); }
int vigil_errno(void) { return rte_errno; }
int vigil_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail) { return rte_pktmbuf_chain(head, tail); }
struct rte_mbuf *vigil_pktmbuf_next(const struct rte_mbuf *m) { return m->next; }
uint64_t vigil_rss_hf_ip(void) { return RTE_ETH_RSS_IP; }
uint64_t vigil_rx_offload_rss_hash(void) { return RTE_ETH_RX_OFFLOAD_RSS_HASH; }
unsigned vigil_max_lcore(void) { return RTE_MAX_LCORE; }
uint16_t vigil_mbuf_default_buf_size(void) { return RTE_MBUF_DEFAULT_BUF_SIZE; }
unsigned vigil_max_ethports(void) { return RTE_MAX_ETHPORTS; }
unsigned vigil_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned n) { return rte_ring_enqueue_burst(r, objs, n, NULL); }
