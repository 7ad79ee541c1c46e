//! `vigil-cp`: the control plane service.
fn main() {
    eprintln!("vigil-cp: not built yet");
    std::process::exit(2);
}
