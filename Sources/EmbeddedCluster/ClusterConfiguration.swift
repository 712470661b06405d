import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

public struct ClusterConfiguration: Sendable {
  /// Holds data/, run/ (the private socket folder), log/ and cluster.lock.
  public var home: String
  /// Only tests turn this off: fsync, synchronous_commit and full_page_writes go off, trading crash safety for speed.
  public var durable: Bool
  /// Overrides binary discovery; an explicit folder that lacks the binaries is an error, never a fallback.
  public var binDirectory: String?
  public var superuser: String
  public var database: String
  /// Written after kpstock's own settings, so these win.
  public var serverSettings: [String: String]
  /// The socket lives in a private folder, so the default port never collides with another server.
  public var port: Int

  public init(
    home: String,
    durable: Bool = true,
    binDirectory: String? = nil,
    superuser: String = "kpstock",
    database: String = "kpstock",
    serverSettings: [String: String] = [:],
    port: Int = 5432
  ) {
    self.home = home
    self.durable = durable
    self.binDirectory = binDirectory
    self.superuser = superuser
    self.database = database
    self.serverSettings = serverSettings
    self.port = port
  }

  /// Root gets /var/lib/kpstock because the server then runs as the postgres user, which cannot enter /root.
  public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
    defaultHome(environment: environment, isRoot: geteuid() == 0)
  }

  static func defaultHome(environment: [String: String], isRoot: Bool) -> String {
    if let explicit = environment["KPSTOCK_HOME"], !explicit.isEmpty {
      return explicit
    }
    if isRoot {
      return "/var/lib/kpstock"
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let dataHome = environment["XDG_DATA_HOME"], dataHome.hasPrefix("/") {
      return joinPath(dataHome, "kpstock")
    }
    let userHome = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ServerAccount.homeOfCurrentUser()
    guard let userHome else {
      return "/tmp/kpstock-\(geteuid())"
    }
    return joinPath(userHome, ".local/share/kpstock")
  }
}

func joinPath(_ base: String, _ component: String) -> String {
  base.hasSuffix("/") ? base + component : base + "/" + component
}
