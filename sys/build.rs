//! Finds DPDK (>= 22.11) with pkg-config, generates allowlisted bindings with bindgen and
//! compiles the C shim with the same flags DPDK's own applications use.
use std::{env, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");

    let dpdk = match pkg_config::Config::new().atleast_version("22.11").probe("libdpdk") {
        Ok(lib) => lib,
        Err(e) => panic!(
            "dpdk-sys: DPDK >= 22.11 not found by pkg-config ({e}). \
             Install it with `scripts/install-deps.sh` (Debian: dpdk-dev libdpdk-dev)."
        ),
    };
    // rte_eth_from_ring lives in the ring PMD, which pkg-config does not list.
    println!("cargo:rustc-link-lib=rte_net_ring");
    println!("cargo:rustc-link-lib=rte_bus_vdev");

    let cflags: Vec<String> = pkg_config::get_variable("libdpdk", "cflags")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_else(|| {
            let out = std::process::Command::new("pkg-config")
                .args(["--cflags", "libdpdk"])
                .output()
                .expect("pkg-config runs");
            String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect()
        });

    let mut build = cc::Build::new();
    build.file("shim.c").opt_level(3).warnings(false);
    for p in &dpdk.include_paths {
        build.include(p);
    }
    for f in &cflags {
        build.flag(f);
    }
    build.compile("vigil_dpdk_shim");

    let mut clang_args: Vec<String> = cflags.clone();
    for p in &dpdk.include_paths {
        clang_args.push(format!("-I{}", p.display()));
    }
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&clang_args)
        .allowlist_function("rte_(eal|eth|pktmbuf|mempool|lcore|ring|socket|get|strerror|exit|delay|thread|vdev)_.*")
        .allowlist_function("rte_(eth_from_ring|strerror|exit)")
        .allowlist_function("vigil_.*")
        .allowlist_type("rte_(mempool|ring|eth_.*|lcore_.*|ether_addr)")
        .allowlist_var("RTE_(ETH|MBUF|PKTMBUF|RING|MAX_ETHPORTS|MAX_LCORE|ETHER)_.*")
        .allowlist_var("RING_F_.*")
        .allowlist_var("SOCKET_ID_ANY")
        .opaque_type("rte_mbuf")
        .opaque_type("rte_l2tpv2_.*")
        .opaque_type("rte_gtp_.*")
        .opaque_type("rte_arp_.*")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("dpdk-sys: bindgen failed on DPDK headers");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR set by cargo"));
    bindings.write_to_file(out.join("bindings.rs")).expect("write bindings");
}
