import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

struct PostgresBinaries: Sendable, Equatable {
  let directory: String

  var initdb: String { joinPath(directory, "initdb") }
  var pgCtl: String { joinPath(directory, "pg_ctl") }
}

/// Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<major>/bin, off PATH, so PATH alone is not enough.
enum BinaryLocator {
  static let serverTools = ["initdb", "pg_ctl"]
  static let notFoundHint =
    "install the postgresql package (apt-get install postgresql) or set KPSTOCK_PG_BIN"

  static func locate(
    configured: String?,
    environment: [String: String],
    versionedRoot: String = "/usr/lib/postgresql"
  ) throws -> PostgresBinaries {
    if let configured {
      return try explicit(configured, origin: "the configured bin directory")
    }
    if let fromEnvironment = environment["KPSTOCK_PG_BIN"], !fromEnvironment.isEmpty {
      return try explicit(fromEnvironment, origin: "KPSTOCK_PG_BIN")
    }
    for directory in pathDirectories(environment) where holdsServerTools(directory) {
      return PostgresBinaries(directory: installationDirectory(linkedFrom: directory) ?? directory)
    }
    if let directory = newestVersionedDirectory(under: versionedRoot) {
      return PostgresBinaries(directory: directory)
    }
    throw ClusterError(.binariesNotFound, "PostgreSQL server binaries not found; \(notFoundHint)")
  }

  /// Client tools such as createdb may live beside the server tools or, on some systems, only on PATH.
  static func clientTool(_ name: String, near binaries: PostgresBinaries, environment: [String: String]) -> String? {
    let sibling = joinPath(binaries.directory, name)
    if FileSystem.isExecutableFile(sibling) { return sibling }
    return pathDirectories(environment).map { joinPath($0, name) }.first(where: FileSystem.isExecutableFile)
  }

  private static func explicit(_ directory: String, origin: String) throws -> PostgresBinaries {
    guard holdsServerTools(directory) else {
      throw ClusterError(
        .binariesNotFound,
        "PostgreSQL server binaries (initdb, pg_ctl) not found in \(directory) (from \(origin)); \(notFoundHint)"
      )
    }
    return PostgresBinaries(directory: directory)
  }

  /// PATH often holds only symlinks to initdb and pg_ctl (Homebrew, hand-made links into /usr/local/bin); the
  /// folder they point into also holds the client tools such as createdb.
  private static func installationDirectory(linkedFrom directory: String) -> String? {
    guard let resolved = realpath(joinPath(directory, "initdb"), nil) else { return nil }
    defer { free(resolved) }
    let target = String(cString: resolved)
    guard let slash = target.lastIndex(of: "/") else { return nil }
    let installation = slash == target.startIndex ? "/" : String(target[..<slash])
    return holdsServerTools(installation) ? installation : nil
  }

  private static func holdsServerTools(_ directory: String) -> Bool {
    serverTools.allSatisfy { FileSystem.isExecutableFile(joinPath(directory, $0)) }
  }

  private static func pathDirectories(_ environment: [String: String]) -> [String] {
    (environment["PATH"] ?? "").split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
  }

  private static func newestVersionedDirectory(under root: String) -> String? {
    FileSystem.contents(ofDirectory: root)
      .compactMap { name -> (version: [Int], directory: String)? in
        let parts = name.split(separator: ".").map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        let directory = joinPath(joinPath(root, name), "bin")
        guard holdsServerTools(directory) else { return nil }
        return (parts.compactMap { $0 }, directory)
      }
      .max { $0.version.lexicographicallyPrecedes($1.version) }?
      .directory
  }
}
