//! `vigilctl`: the control plane's CLI.
fn main() {
    eprintln!("vigilctl: not built yet");
    std::process::exit(2);
}
