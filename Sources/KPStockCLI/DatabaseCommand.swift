import ArgumentParser
import EmbeddedCluster
import KPStock

struct DatabaseCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "db",
    abstract: "Manage the database: the embedded cluster, migrations and seed data.",
    subcommands: [Status.self, Start.self, Stop.self, Destroy.self, Migrate.self, Seed.self])

  /// The embedded cluster, or an error saying a server was named instead.
  static func embeddedCluster(_ database: DatabaseOptions, action: String) throws -> EmbeddedCluster {
    guard case .embedded(let cluster) = database.target else {
      throw KPStockError.badInput(
        "kpstock is using the \(database.target); 'db \(action)' manages only the embedded cluster")
    }
    return cluster
  }

  struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Say which database kpstock uses, whether it is running, and its migrations.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let target = database.target
      var fields: [(name: String, value: Cell)] = [("target", .text(target.description))]
      var reachable = true
      if case .embedded(let cluster) = target {
        let status = try cluster.status()
        fields += [
          ("home", .text(status.home)),
          ("data_directory", .text(status.dataDirectory)),
          ("socket_directory", .text(status.socketDirectory)),
          ("log_file", .text(status.logFile)),
          ("initialized", .boolean(status.initialized)),
          ("running", .boolean(status.running)),
          ("pid", status.pid.map { .integer(Int($0)) } ?? .empty),
          ("server_version", Cell(status.serverVersion)),
          (
            "server_user",
            .text(
              status.serverUser.map { "\($0) (kpstock runs as root; PostgreSQL refuses root, so it runs as \($0))" }
                ?? "current user")
          ),
        ]
        reachable = status.running
      }
      if reachable {
        do {
          let store = try database.open(migrate: false, asOwner: true)
          let migrations = try database.explainingUnavailable { try store.migrationStatus() }
          let pending = migrations.filter { !$0.applied }.map(\.name)
          fields.append(("connected", .boolean(true)))
          fields.append(("migrations_applied", .integer(migrations.count - pending.count)))
          fields.append(("migrations_pending", .text(pending.isEmpty ? "none" : pending.joined(separator: ", "))))
        } catch let error as KPStockError {
          fields.append(("connected", .boolean(false)))
          fields.append(("connection_error", .text(error.message)))
        }
      }
      Console.output(Record(fields: fields).rendered(as: output.format))
    }
  }

  struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Start the embedded cluster (kpstock also starts it on first need).")
    @OptionGroup var database: DatabaseOptions

    func run() throws {
      let cluster = try DatabaseCommand.embeddedCluster(database, action: "start")
      let started = try cluster.start()
      Console.output(
        started ? "started PostgreSQL in \(cluster.configuration.home)\n" : "PostgreSQL is already running\n")
    }
  }

  struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the embedded cluster.")
    @OptionGroup var database: DatabaseOptions

    func run() throws {
      let cluster = try DatabaseCommand.embeddedCluster(database, action: "stop")
      try cluster.stop()
      Console.output("PostgreSQL is stopped\n")
    }
  }

  struct Destroy: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Stop the embedded cluster and delete all its data. Cannot be undone.")
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Confirm that every record in the embedded database should be deleted.") var yes = false

    func run() throws {
      let cluster = try DatabaseCommand.embeddedCluster(database, action: "destroy")
      guard yes else {
        throw KPStockError.badInput(
          "db destroy deletes every record in \(cluster.configuration.home); add --yes to confirm")
      }
      try cluster.destroy()
      Console.output("deleted the embedded database in \(cluster.configuration.home)\n")
    }
  }

  struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations.")
    @OptionGroup var database: DatabaseOptions

    func run() throws {
      let store = try database.open(migrate: false, asOwner: true)
      let applied = try store.migrate()
      Console.output(
        applied.isEmpty ? "the database is up to date\n" : "applied \(applied.joined(separator: ", "))\n")
    }
  }

  struct Seed: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Load reference data (counties, populations, commodities, norms); never overwrites edits.",
      discussion: "Example: kpstock db seed --demo kwale")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Also load a demo network; the one there is: kwale.") var demo: String?

    func run() throws {
      if let demo, demo.lowercased() != "kwale" {
        throw KPStockError.badInput("--demo: unknown demo '\(demo)' (kwale)")
      }
      let store = try database.open(seedReference: false, asOwner: true)
      let result = demo == nil ? try Seeds.loadReference(store) : try Demo.load(store)
      Console.output(
        result.total == 0 ? "nothing to add: the seed data are already loaded\n" : "added \(result.summary)\n")
    }
  }
}
