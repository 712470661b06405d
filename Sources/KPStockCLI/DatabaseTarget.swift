import EmbeddedCluster
import Foundation
import KPStock

/// Where kpstock keeps its data: a server the user named, or its own embedded cluster.
enum DatabaseTarget: Sendable, CustomStringConvertible {
  /// A `postgres://` URL or `key=value` conninfo from `--database-url` or `DATABASE_URL`.
  case server(String)
  /// libpq's own `PG*` variables (PGHOST, PGDATABASE, …) say where.
  case libpqEnvironment
  case embedded(EmbeddedCluster)

  /// The libpq variables that name a server; their presence means "use that server".
  static let libpqVariables = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"]

  static func resolve(
    databaseURL: String?, environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> DatabaseTarget {
    if let url = databaseURL, !url.isEmpty { return .server(url) }
    if let url = environment["DATABASE_URL"], !url.isEmpty { return .server(url) }
    if libpqVariables.contains(where: { !(environment[$0] ?? "").isEmpty }) { return .libpqEnvironment }
    let home = ClusterConfiguration.defaultHome(environment: environment)
    return .embedded(EmbeddedCluster(configuration: ClusterConfiguration(home: home)))
  }

  /// The conninfo to hand libpq.
  var conninfo: String {
    switch self {
    case .server(let url): url
    case .libpqEnvironment: ""
    case .embedded(let cluster): cluster.connectionString()
    }
  }

  /// Says where, without a password.
  var description: String {
    switch self {
    case .server(let url): "server \(Self.redacted(url))"
    case .libpqEnvironment: "server from PG* environment variables"
    case .embedded(let cluster): "embedded cluster in \(cluster.configuration.home)"
    }
  }

  /// Hides the password of a URL or conninfo so it never reaches a terminal or log.
  static func redacted(_ conninfo: String) -> String {
    var text = conninfo.replacingOccurrences(
      of: #"(://[^:/@]*:)[^@]*@"#, with: "$1***@", options: .regularExpression)
    text = text.replacingOccurrences(
      of: #"password\s*=\s*('([^'\\]|\\.)*'|\S+)"#, with: "password=***", options: .regularExpression)
    return text
  }
}

extension DatabaseOptions {
  /// Runs work on an open store, wording a database it cannot use as `open` does.
  func explainingUnavailable<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as StoreUnavailable {
      throw error.worded(at: target)
    }
  }
}
