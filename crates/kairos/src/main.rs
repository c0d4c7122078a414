// mimalloc: ingestion allocates many small JSON nodes on several threads; measured ~15% faster than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kairos::cli::main()
}
