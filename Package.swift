// swift-tools-version:6.0
// ablate — DenseNet-121 / SE-DenseNet ablations on the CPU.
//
// Module graph (each module → what it uses; one way only):
//   AblateCore      shared value types (run configuration with every setting declared once, model presets and
//                   names, canonical JSON, SHA-256, run status, epoch metrics, predictions); no dependencies
//   ExperimentFile  → AblateCore, Yams: the experiment-file language (YAML, validation, matrix); no engine
//   Engine          → CKernels, CDNNL (oneDNN), CBLAS (OpenBLAS): tensors, kernels, layers, optimisers, weights
//   Models          → AblateCore, Engine: the networks        Training → AblateCore, Engine, Models
//   Verification    → AblateCore, Engine, Models: the engine and models against PyTorch's golden files
//   Datasets        → AblateCore, TurboJPEG, libpng, CNearDuplicate (the near-duplicate audit's pair loops)
//   Store           → AblateCore, GRDB
//   Checkpoints     → AblateCore, Engine, Models, ZIPFoundation: pretrained weights (torch.save zip and legacy
//                   files through a restricted unpickler, safetensors) loaded into a network, with a load report
//   Report          → AblateCore, Cairo                       Runner   → all of the above (the glue)
//   Trackers        → AblateCore, Store: a store's runs in MLflow (REST) and TensorBoard (event files written by ablate itself)
//   ablate          → Runner and the modules whose values it prints, ArgumentParser
// Only the `ablate` executable talks to the terminal.
import PackageDescription

// MARK: architecture
// Built and tested: Linux x86-64 (the whole package, CI). Linux arm64 (aarch64): the C kernels are built with the
// portable flags and checked against x86-64 under qemu (scripts/check-arm64-kernels.sh, part of CI); the Swift
// package itself has not been built on an arm64 machine yet. macOS: never built or tested (see `platforms`).
//
// `#if arch(...)` in a manifest describes the machine that evaluates the manifest, i.e. the build host, not the
// `--triple`/`--swift-sdk` target: these flags support native builds only. Cross-compiling the whole package
// (e.g. x86-64 → arm64) would pick the host's flags and is not supported; build on the target machine instead.
//
// `ABLATE_PORTABLE_KERNELS=1` in the environment of `swift build` forces the portable path on x86-64 (no
// AVX2/FMA: any x86-64 processor, and the code arm64 runs). Use a scratch path of its own so the two builds
// never share objects: `ABLATE_PORTABLE_KERNELS=1 swift build --scratch-path .build-portable`.
let portableKernels = ["1", "true", "yes"].contains(Context.environment["ABLATE_PORTABLE_KERNELS"] ?? "")

#if arch(x86_64)
// AVX2/FMA lets the compilers vectorise the plain loops 8 wide (Zen 3 / Haswell and later).
let vectorFlags = portableKernels ? [String]() : ["-mavx2", "-mfma"]
let multiarch = "x86_64-linux-gnu"
#elseif arch(arm64)
// NEON (128-bit) is part of the AArch64 base architecture: the default target vectorises 4 wide without flags.
// Flush-to-zero is set at run time in kernels.c (FPCR.FZ), as MXCSR's FTZ/DAZ is on x86-64.
let vectorFlags = [String]()
let multiarch = "aarch64-linux-gnu"
#else
// Any other architecture: plain C and Swift, no vector flags; denormals are not flushed (slower, still correct).
let vectorFlags = [String]()
let multiarch = ""
#endif

// Release builds of the numeric code keep Swift's bounds and overflow checks (-O, not -Ounchecked): an
// out-of-bounds write then stops with its location instead of corrupting the heap of an overnight run, and the
// engine's shape checks are `precondition`s, which -O keeps. The dynamic check of Swift's exclusive-access rule
// is off in release builds only (tests run debug builds with it).
let hotSwift: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"] + vectorFlags.flatMap { ["-Xcc", $0] },
                 .when(configuration: .release)),
]

// The engine's C kernels: -ffp-contract=off keeps a·b + c two roundings on every architecture (no fused
// multiply-add where the compiler chooses), so x86-64 with FMA, portable x86-64 and arm64 round alike.
let kernelFlags = ["-O3"] + vectorFlags + ["-ffp-contract=off"]

// OpenBLAS's OpenMP build (Debian `libopenblas-openmp-dev`, under the architecture's multiarch folder) found
// first at run time, and libgomp for the engine's own kernels: GEMMs and element-wise kernels share one pool of
// threads. Without that package the loader falls back to the default OpenBLAS (pthreads), which is still
// correct, only slower.
let openMPBLAS: [LinkerSetting] = (multiarch.isEmpty ? [] : [
    .unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", "/usr/lib/\(multiarch)/openblas-openmp"], .when(platforms: [.linux])),
]) + [
    .linkedLibrary("gomp"),
]

// oneDNN 3.x, unpacked from its PyPI wheels by scripts/deps.sh (not tracked). Where it is missing, CDNNL3 compiles
// against Debian's 2.x headers into a stub and ablate runs on 2.x alone.
let oneDNN3 = Context.packageDirectory + "/.deps/onednn-3.2"

let package = Package(
    name: "ablate",
    // No `platforms:` line: SwiftPM's list names Apple platforms only, and none of them is built or tested (the
    // link setup assumes Debian's OpenBLAS/oneDNN/libgomp). Linux needs no entry; see "MARK: architecture".
    products: [
        .executable(name: "ablate", targets: ["ablate"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Datasets", targets: ["Datasets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        // PyTorch ≥ 1.6 checkpoints are zip archives (entries stored uncompressed); links zlib (zlib1g-dev).
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        // oneDNN's convolutions and sgemm, OpenMP builds (the same libgomp pool as above): CDNNL is the interface
        // the engine calls and picks one library per process (Sources/CDNNL/include/abl_dnnl.h); CDNNL2 and CDNNL3
        // compile its shim (Sources/CDNNL/shim) against Debian's `libdnnl-dev` 2.x and the 3.x wheels' headers. None
        // links libdnnl: each shim dlopens its own, so the two libraries' identical symbols never meet.
        .target(name: "CDNNL", dependencies: ["CDNNL2", "CDNNL3"], exclude: ["shim"],
                cSettings: [.unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CDNNL2", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "CDNNL3", cSettings: [.unsafeFlags(["-O2", "-I", "\(oneDNN3)/include"]),
                                            .define("ABL_DNNL3_LIBRARY", to: "\"\(oneDNN3)/lib/libdnnl.so.3\"")]),
        .target(name: "CKernels",
                cSettings: [.unsafeFlags(kernelFlags)]),
        // The near-duplicate audit's pair loops (optimised in debug builds too, which the tests use).
        .target(name: "CNearDuplicate", cSettings: [.unsafeFlags(["-O3"] + vectorFlags)]),

        // MARK: shared value types (no dependencies)
        .target(name: "AblateCore"),

        // MARK: engine and models
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels", "CDNNL"], swiftSettings: hotSwift, linkerSettings: openMPBLAS),
        .target(name: "Models", dependencies: ["AblateCore", "Engine"], swiftSettings: hotSwift),
        .target(name: "Training", dependencies: ["AblateCore", "Engine", "Models"], swiftSettings: hotSwift),
        // Verification against PyTorch's golden files (`ablate verify` and the reference tests), beside the models.
        .target(name: "Verification", dependencies: ["AblateCore", "Engine", "Models"]),
        // Pretrained weights (`--init-from`): torch.save files (zip and legacy), safetensors, and the load report.
        .target(name: "Checkpoints", dependencies: ["AblateCore", "Engine", "Models",
                                                    .product(name: "ZIPFoundation", package: "ZIPFoundation")]),

        // MARK: report (statistics, markdown tables, Cairo figures)
        .target(name: "Report", dependencies: ["AblateCore", "CCairo"]),

        // MARK: experiment files (the language: YAML, validation, matrix; no engine)
        .target(name: "ExperimentFile", dependencies: ["AblateCore", .product(name: "Yams", package: "Yams")]),

        // MARK: run store, and the runner that glues everything to training
        .target(name: "Store", dependencies: ["AblateCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Runner", dependencies: ["AblateCore", "ExperimentFile", "Store", "Datasets", "Engine", "Models",
                                               "Training", "Report", "Checkpoints"]),

        // MARK: trackers (MLflow over its REST API with Foundation's URLSession; TensorBoard event files)
        .target(name: "Trackers", dependencies: ["AblateCore", "Store"]),

        // MARK: data pipeline (stands beside the engine)
        .target(name: "Datasets", dependencies: ["AblateCore", "CTurboJPEG", "CPNG", "CNearDuplicate"], swiftSettings: hotSwift),

        // MARK: command line
        .executableTarget(name: "ablate", dependencies: [
            "AblateCore",
            "ExperimentFile",
            "Engine", "Models", "Training", "Checkpoints", "Verification",
            "Report",
            "Store",
            "Runner",
            "Datasets",
            "Trackers",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: tests
        .testTarget(name: "AblateCoreTests", dependencies: ["AblateCore"]),
        .testTarget(name: "ExperimentFileTests", dependencies: ["AblateCore", "ExperimentFile"]),
        .testTarget(name: "EngineTests", dependencies: ["AblateCore", "Engine"]),
        .testTarget(name: "ModelsTests", dependencies: ["AblateCore", "Models", "Engine", "Training", "Checkpoints", "Verification",
                                                   .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .testTarget(name: "ReportTests", dependencies: ["AblateCore", "Report", "CCairo"]),
        .testTarget(name: "StoreTests", dependencies: ["AblateCore", "Store", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "RunnerTests", dependencies: ["AblateCore", "ExperimentFile", "Runner", "Store", "Datasets",
                                                   "Training", "Models", "Engine",
                                                   .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "DatasetsTests", dependencies: ["AblateCore", "Datasets"]),
        .testTarget(name: "TrackersTests", dependencies: ["AblateCore", "Store", "Trackers"]),
    ],
    // Swift 6 language mode for every target: each compiles with complete concurrency checking. Where memory
    // crosses threads in ways the checker cannot prove safe, the escape hatch is local and says why, instead of
    // a whole target in Swift 5 mode: the engine hands raw pointers to its C thread pool (abl_parallel), which
    // Swift does not see as concurrency; Datasets' concurrentPerform loops write disjoint slices through
    // `nonisolated(unsafe)` pointers; process-wide switches are `nonisolated(unsafe)` statics; `ablate` imports
    // Glibc @preconcurrency for `stdout`. A target that ever needs Swift 5 mode gets
    // `.swiftLanguageMode(.v5)` in its swiftSettings with a comment naming what blocks it.
    swiftLanguageModes: [.v6]
)
