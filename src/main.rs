fn main() -> std::process::ExitCode {
    plugsniff::cli::run()
}
