import ArgumentParser
import KPStock

struct DatabaseOptions: ParsableArguments {
  @Option(
    name: .customLong("database-url"),
    help: ArgumentHelp(
      "PostgreSQL URL or conninfo to use instead of the embedded cluster.",
      discussion: "Default: $DATABASE_URL, then libpq's PG* variables, then kpstock's embedded cluster.",
      valueName: "url"))
  var databaseURL: String?

  var target: DatabaseTarget { DatabaseTarget.resolve(databaseURL: databaseURL) }

  /// Opens the store, starting the embedded cluster first when that is the target; the store migrates as needed.
  /// A signal from then on cancels what the store runs on the server (see Interruption).
  ///
  /// - Parameter asOwner: work as the schema owner (migrating, simulating history on chosen days). On the embedded
  ///   cluster that is its superuser; everything else runs as a person's login (`KPSTOCK_USER`, or kpstock_admin).
  ///   A server named by URL is used as the URL's login; for daily work, a login that may act as the owner takes an
  ///   admin's rights instead.
  func open(migrate: Bool = true, seedReference: Bool = true, asOwner: Bool = false) throws -> Store {
    let target = self.target
    var recreateMissingDatabase: (() throws -> Void)?
    if case .embedded(let cluster) = target {
      if try cluster.start() {
        Console.notice("started the embedded PostgreSQL server (data in \(cluster.configuration.home))")
      }
      recreateMissingDatabase = { try cluster.createDatabaseIfMissing() }
    }
    do {
      let owner = target.ownerAccess
      let store = try Store.open(
        conninfo: asOwner ? owner?.conninfo ?? target.conninfo : target.conninfo, owner: owner, migrate: migrate,
        seedReference: seedReference, dailyWork: !asOwner,
        recreateMissingDatabase: recreateMissingDatabase, notice: Console.notice)
      Interruption.watch(store)
      return store
    } catch let error as StoreUnavailable {
      throw error.worded(at: target)
    }
  }
}

struct FormatOption: ParsableArguments {
  @Option(help: "Output format: table, csv or json.")
  var format: OutputFormat = .table
}

extension OutputFormat: ExpressibleByArgument {}

/// Names a field the way the person typed it: `--pack-size` for an option, `CODE` for an argument.
struct FlagNames {
  var renamed: [String: String] = [:]

  func flag(for column: String) -> String {
    renamed[column] ?? "--" + column.replacingOccurrences(of: "_", with: "-")
  }

  /// Runs domain work, turning a field failure or a ledger refusal into a one-line error that names the flag;
  /// other kpstock errors pass through.
  @discardableResult
  func check<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch {
      throw worded(error) ?? error
    }
  }

  /// A refusal of something typed, worded with the flag it came from; nil for any other failure.
  func worded(_ error: any Error) -> KPStockError? {
    switch error {
    case let error as FieldError:
      .badInput("\(flag(for: error.field)): \(error.problem)" + Pointer.text(error.hint))
    case let error as LedgerRefusal:
      .badInput((error.field.map { "\(flag(for: $0)): " } ?? "") + error.problem + Pointer.text(error.hint))
    default:
      nil
    }
  }
}
