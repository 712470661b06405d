import Foundation
import Testing

@testable import EmbeddedCluster

@Suite("Cluster configuration")
struct ClusterConfigurationTests {
  @Test func defaultHomePrefersKPStockHome() {
    let environment = ["KPSTOCK_HOME": "/srv/kp", "XDG_DATA_HOME": "/x", "HOME": "/home/a"]
    #expect(ClusterConfiguration.defaultHome(environment: environment, isRoot: false) == "/srv/kp")
    #expect(ClusterConfiguration.defaultHome(environment: environment, isRoot: true) == "/srv/kp")
    #expect(ClusterConfiguration.defaultHome(environment: environment) == "/srv/kp")
  }

  @Test func defaultHomeUsesXDGDataHomeForRegularUsers() {
    let environment = ["XDG_DATA_HOME": "/home/a/data", "HOME": "/home/a"]
    #expect(ClusterConfiguration.defaultHome(environment: environment, isRoot: false) == "/home/a/data/kpstock")
  }

  @Test func defaultHomeFallsBackToLocalShareAndIgnoresRelativeXDGDataHome() {
    #expect(
      ClusterConfiguration.defaultHome(environment: ["HOME": "/home/a"], isRoot: false)
        == "/home/a/.local/share/kpstock")
    #expect(
      ClusterConfiguration.defaultHome(environment: ["HOME": "/home/a", "XDG_DATA_HOME": "rel"], isRoot: false)
        == "/home/a/.local/share/kpstock")
  }

  @Test func defaultHomeForRootIsVarLibBecauseThePostgresUserCannotEnterRootsHome() {
    let environment = ["XDG_DATA_HOME": "/root/.local/share", "HOME": "/root"]
    #expect(ClusterConfiguration.defaultHome(environment: environment, isRoot: true) == "/var/lib/kpstock")
    #expect(ClusterConfiguration.defaultHome(environment: ["KPSTOCK_HOME": ""], isRoot: true) == "/var/lib/kpstock")
  }

  @Test func connectionStringNamesTheSocketFolderPortUserAndDatabase() {
    let cluster = EmbeddedCluster(configuration: ClusterConfiguration(home: "/tmp/kp-home/"))
    #expect(cluster.connectionString() == "host=/tmp/kp-home/run port=5432 user=kpstock dbname=kpstock")
    #expect(cluster.connectionString(database: "other") == "host=/tmp/kp-home/run port=5432 user=kpstock dbname=other")
  }

  @Test func connectionStringQuotesValuesWithSpacesQuotesOrBackslashes() {
    let cluster = EmbeddedCluster(
      configuration: ClusterConfiguration(home: "/tmp/my home", superuser: "o'neil", database: #"a\b"#))
    #expect(cluster.connectionString() == #"host='/tmp/my home/run' port=5432 user='o\'neil' dbname='a\\b'"#)
    #expect(cluster.connectionString(database: "").hasSuffix("dbname=''"))
  }

  @Test func nonDurableClustersTurnOffSyncingAndExtraSettingsComeLast() throws {
    let configuration = ClusterConfiguration(
      home: "/tmp/kp", durable: false, serverSettings: ["fsync": "on", "work_mem": "8MB"])
    let rendered = try ServerSettings.render(configuration, socketDirectory: "/tmp/kp/run")
    let lines = rendered.split(separator: "\n").map(String.init)
    #expect(lines.contains("synchronous_commit = off"))
    #expect(lines.contains("full_page_writes = off"))
    #expect(lines.last == "work_mem = '8MB'")
    let builtIn = try #require(lines.firstIndex(of: "fsync = off"))
    let override = try #require(lines.firstIndex(of: "fsync = 'on'"))
    #expect(builtIn < override)
  }

  @Test func durableClustersKeepPostgresDefaultsForSyncing() throws {
    let rendered = try ServerSettings.render(ClusterConfiguration(home: "/tmp/kp"), socketDirectory: "/tmp/kp/run")
    #expect(!rendered.contains("fsync"))
    #expect(rendered.contains("unix_socket_permissions = 0700"))
    // Room in the lock table for a batch that books stock cards all over the country (one advisory lock each).
    #expect(rendered.contains("\nmax_locks_per_transaction = 256\n"))
  }

  @Test func theServerChecksForVanishedClientsFromPostgreSQL14On() throws {
    let configuration = ClusterConfiguration(home: "/tmp/kp")
    let current = try ServerSettings.render(configuration, socketDirectory: "/tmp/kp/run", serverMajorVersion: 15)
    #expect(current.contains("\nclient_connection_check_interval = '2s'\n"))
    let old = try ServerSettings.render(configuration, socketDirectory: "/tmp/kp/run", serverMajorVersion: 13)
    #expect(!old.contains("client_connection_check_interval"))
    let overridden = try ServerSettings.render(
      ClusterConfiguration(home: "/tmp/kp", serverSettings: ["client_connection_check_interval": "0"]),
      socketDirectory: "/tmp/kp/run")
    #expect(overridden.hasSuffix("client_connection_check_interval = '0'\n"))
  }

  @Test func settingNamesThatCouldInjectConfigurationAreRejected() {
    let configuration = ClusterConfiguration(home: "/tmp/kp", serverSettings: ["x = 1\nfsync": "off"])
    #expect(throws: ClusterError.self) { try ServerSettings.render(configuration, socketDirectory: "/tmp/kp/run") }
  }

  @Test func noExtraSettingOpensTheClusterToTheNetworkOrWidensItsSocket() {
    for (name, value) in [
      ("listen_addresses", "*"), ("Listen_Addresses", "0.0.0.0"), ("unix_socket_permissions", "0777"),
      ("unix_socket_directories", "/tmp"), ("unix_socket_group", "users"),
    ] {
      let configuration = ClusterConfiguration(home: "/tmp/kp", serverSettings: [name: value])
      let error = #expect(throws: ClusterError.self) {
        try ServerSettings.render(configuration, socketDirectory: "/tmp/kp/run")
      }
      #expect(error?.kind == .invalidConfiguration)
    }
  }

  @Test func homeTooLongForAUnixSocketIsAClearError() throws {
    let home = "/tmp/" + String(repeating: "k", count: 100)
    let cluster = EmbeddedCluster(configuration: ClusterConfiguration(home: home, durable: false))
    defer { try? FileManager.default.removeItem(atPath: home) }
    let error = #expect(throws: ClusterError.self) { try cluster.start() }
    #expect(error?.kind == .invalidConfiguration)
    #expect(!FileManager.default.fileExists(atPath: home))
  }
}
