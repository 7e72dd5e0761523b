//! The `meshsim` command; everything it does lives in the library's [`meshsim::cli`].

fn main() -> std::process::ExitCode {
    meshsim::cli::main()
}
