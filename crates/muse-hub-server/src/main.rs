//! `musehub`: the hub's server and admin commands (`docs/hub.md`); all of it lives in the
//! library's `cli` module.

fn main() -> std::process::ExitCode {
    muse_hub_server::cli::main()
}
