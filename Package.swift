// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "kpstock",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "kpstock", targets: ["KPStockCLI"]),
    .library(name: "KPStock", targets: ["KPStock"]),
    .library(name: "Postgres", targets: ["Postgres"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CLibPQ",
      pkgConfig: "libpq",
      providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
    ),
    .target(name: "Postgres", dependencies: ["CLibPQ"]),
    .target(
      name: "EmbeddedCluster",
      dependencies: [.product(name: "Logging", package: "swift-log")]
    ),
    .executableTarget(name: "EmbedFilesTool"),
    .plugin(
      name: "EmbedFilesPlugin",
      capability: .buildTool(),
      dependencies: ["EmbedFilesTool"]
    ),
    .target(
      name: "KPStock",
      dependencies: ["Postgres"],
      plugins: ["EmbedFilesPlugin"]
    ),
    .executableTarget(
      name: "KPStockCLI",
      dependencies: [
        "KPStock",
        "EmbeddedCluster",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .target(
      name: "BenchmarkSupport",
      path: "Benchmarks/BenchmarkSupport"
    ),
    .executableTarget(
      name: "LedgerBenchmark",
      dependencies: ["KPStock", "EmbeddedCluster", "Postgres", "BenchmarkSupport"],
      path: "Benchmarks/LedgerBenchmark"
    ),
    .executableTarget(
      name: "ForecastBenchmark",
      dependencies: ["KPStock", "EmbeddedCluster", "Postgres", "BenchmarkSupport"],
      path: "Benchmarks/ForecastBenchmark"
    ),
    .executableTarget(
      name: "ReportBenchmark",
      dependencies: ["KPStock", "EmbeddedCluster", "Postgres", "BenchmarkSupport"],
      path: "Benchmarks/ReportBenchmark"
    ),
    .target(
      name: "KPStockTestSupport",
      dependencies: ["KPStock", "Postgres", "EmbeddedCluster"],
      path: "Tests/KPStockTestSupport"
    ),
    .testTarget(name: "PostgresTests", dependencies: ["Postgres", "KPStockTestSupport"]),
    .testTarget(name: "EmbeddedClusterTests", dependencies: ["EmbeddedCluster", "KPStockTestSupport"]),
    .testTarget(name: "KPStockTests", dependencies: ["KPStock", "KPStockTestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["KPStockCLI", "KPStockTestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)
