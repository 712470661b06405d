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

  /// The login the embedded cluster works as when `KPSTOCK_USER` names none: an admin, made on first use. Never the
  /// cluster's superuser, which owns the schema and is kept for migrating and simulating.
  static let embeddedDefaultUser = "kpstock_admin"

  /// The login daily work uses on the embedded cluster.
  static func embeddedUser(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
    environment["KPSTOCK_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? embeddedDefaultUser
  }

  /// The conninfo to hand libpq for daily work: on the embedded cluster, a person's login, not the owner.
  var conninfo: String {
    switch self {
    case .server(let url): url
    case .libpqEnvironment: ""
    case .embedded(let cluster): cluster.connectionString(user: Self.embeddedUser())
    }
  }

  /// The way in as the schema owner, where kpstock has one: its embedded cluster's superuser.
  var ownerAccess: OwnerAccess? {
    guard case .embedded(let cluster) = self else { return nil }
    let user = Self.embeddedUser()
    return OwnerAccess(
      conninfo: cluster.connectionString(), defaultLogin: user == Self.embeddedDefaultUser ? user : nil)
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
