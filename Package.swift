// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Oni",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "oni", targets: ["oni"]),
        .executable(name: "oni-learner", targets: ["oni-learner"]),
        .executable(name: "oni-worker", targets: ["oni-worker"]),
        .executable(name: "oni-annotator", targets: ["oni-annotator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/ordo-one/malloc-interposer", exact: "1.6.1"),
        // `swift package generate-documentation --target OniRuntime`: the reference articles.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", exact: "1.5.0"),
    ],
    targets: [
        // C shims over Debian's system libraries.
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        // Our declarations of NLE's C API and a loader for private copies of libnethack (never linked).
        .target(name: "CNetHack", linkerSettings: [.linkedLibrary("dl")]),
        // prctl(PR_SET_PDEATHSIG), which Swift cannot call (C variadic).
        .target(name: "CProcessControl"),
        // Our AVX-512 and AVX2 kernels, chosen at run time: the direct convolution and products with few rows.
        .target(name: "CKernels"),

        // Libraries, from the inside out.
        .target(name: "OniCore"),
        .target(
            name: "OniWire",
            dependencies: ["OniCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/README.md"]
        ),
        .target(
            name: "OniTransport",
            dependencies: ["CZeroMQ", "OniCore", "OniWire", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "OniEnvironments", dependencies: ["CNetHack", "OniCore"]),
        // The layers are generic over Float (product) and Double (gradient checks):
        // cross-module optimisation lets callers get them specialised, not run through witness tables.
        .target(name: "OniNeural", dependencies: ["CBLAS", "CKernels", "OniCore"], swiftSettings: [.unsafeFlags(["-cross-module-optimization"])]),
        .target(name: "OniLearning", dependencies: ["OniNeural", "OniCore"]),
        // The intrinsic rewards: message and pair tables, reward models, what they pay, ONI's composition.
        .target(name: "OniRewards", dependencies: ["OniNeural", "OniCore"]),
        .target(
            name: "OniAnnotation",
            dependencies: ["OniCore", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "OniStorage",
            dependencies: [
                "CSQLite", "CZstd", "OniCore", "OniWire", .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "OniTelemetry",
            dependencies: [
                "OniCore", "OniWire", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "OniRuntime",
            dependencies: [
                "CBLAS", "OniCore", "OniWire", "OniTransport", "OniEnvironments", "OniAnnotation",
                "OniStorage", "OniTelemetry", "OniNeural", "OniLearning", "OniRewards",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Every option of every role, declared once: the executables, `oni run` and config files share them.
        .target(
            name: "OniOptions",
            dependencies: [
                "OniCore", "OniRuntime", "OniLearning", "OniRewards", "OniAnnotation", "OniStorage", "OniWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Thin executables.
        .executableTarget(
            name: "oni",
            dependencies: [
                "CProcessControl", "OniCore", "OniOptions", "OniRuntime", "OniLearning", "OniRewards", "OniStorage", "OniAnnotation",
                "OniTelemetry", "OniTransport",  // OniTransport: `oni keys` and `oni run --curve` (CURVE key files)
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "oni-learner",
            dependencies: ["OniOptions", "OniRuntime", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "oni-worker",
            dependencies: ["OniOptions", "OniRuntime", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Counts the allocations of the learner's update (the interposer stays out of the product binaries).
        .executableTarget(
            name: "oni-allocations",
            dependencies: [
                "OniRuntime", .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "oni-annotator",
            dependencies: ["OniOptions", "OniRuntime", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // Tests.
        .target(name: "OniTestSupport", dependencies: ["OniCore", "OniWire"], path: "Tests/OniTestSupport"),
        .testTarget(name: "OniCoreTests", dependencies: ["OniCore"]),
        .testTarget(name: "OniWireTests", dependencies: ["OniWire", "OniCore", "OniTestSupport"]),
        .testTarget(
            name: "OniTransportTests",
            dependencies: ["OniTransport", "OniWire", "OniCore", "OniTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "OniEnvironmentsTests", dependencies: ["OniEnvironments", "OniCore"], exclude: ["Reference"]),
        .testTarget(name: "OniAnnotationTests", dependencies: ["OniAnnotation", "OniCore", "OniTestSupport"], exclude: ["LabelSet"]),
        .testTarget(
            name: "OniStorageTests",
            dependencies: ["OniStorage", "OniWire", "OniCore", "OniTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "OniRuntimeTests",
            dependencies: [
                "OniRuntime", "OniLearning", "OniNeural", "OniRewards", "OniCore", "OniEnvironments", "OniStorage", "OniTransport", "OniAnnotation", "OniWire",
                "OniTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "OniOptionsTests", dependencies: ["OniOptions", "OniRuntime", "OniLearning", "OniRewards", "OniEnvironments", "OniAnnotation", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "OniTelemetryTests", dependencies: ["OniTelemetry", "OniWire"]),
        .testTarget(name: "OniNeuralTests", dependencies: ["OniNeural", "OniCore", "CBLAS"]),
        .testTarget(name: "OniLearningTests", dependencies: ["OniLearning", "OniNeural", "OniCore"]),
        .testTarget(name: "OniRewardsTests", dependencies: ["OniRewards", "OniNeural", "OniCore", "OniTestSupport"]),
        .testTarget(
            name: "OniIntegrationTests",
            dependencies: [
                "OniCore", "OniRuntime", "OniWire", "OniTransport", "OniStorage", "OniTelemetry", "OniAnnotation", "OniTestSupport",
                .product(name: "Logging", package: "swift-log"), "oni", "oni-learner", "oni-worker", "oni-annotator",
            ],
            exclude: ["Golden"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
