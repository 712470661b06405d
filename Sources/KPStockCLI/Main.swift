import ArgumentParser
import EmbeddedCluster
import Foundation
import KPStock
import Logging

/// Runs the command and turns a kpstock error into its message and exit status: 2 for bad input,
/// 1 when the database could not do the work, 128 + the signal when a signal interrupted it.
@main
enum Main {
  static func main() {
    bootstrapLogging()
    Interruption.install()
    var parsed: (any ParsableCommand)?
    do {
      var command = try KPStockCommand.parseAsRoot()
      parsed = command
      try RepeatedOptions.check(type(of: command), arguments: Array(CommandLine.arguments.dropFirst()))
      try command.run()
    } catch {
      // Whatever the cancelled statement reported, the cause was the signal.
      if let signal = Interruption.received {
        let kept = parsed.flatMap { type(of: $0) as? any CommitsAsItGoes.Type }?.keptWhenInterrupted
        Console.error("kpstock: error: interrupted; \(kept ?? "nothing was written")")
        exit(128 + signal)
      }
      report(error)
    }
  }

  private static func report(_ error: any Error) -> Never {
    switch error {
    case let error as KPStockError:
      fail(error)
    case is FieldError, is LedgerRefusal:
      // A refusal that no command caught with FlagNames.check (a count sheet looked up by id, say): still one line
      // naming the field the way a flag is spelt.
      fail(FlagNames().worded(error)!)
    case let error as AlreadyExists:
      fail(.badInput("\(error); change it with 'kpstock \(error.noun) update \(error.code)'"))
    case let error as ImportRefused:
      fail(RegisterWording.refusal(error))
    case let error as StoreUnavailable:
      fail(error.worded(at: nil))
    case let error as ClusterError:
      fail(KPStockError(.operational, error.description))
    default:
      // A malformed command line is bad input like any other: same status 2, so scripts need check one code.
      if KPStockCommand.exitCode(for: error) == .validationFailure {
        Console.error(KPStockCommand.fullMessage(for: error))
        exit(2)
      }
      KPStockCommand.exit(withError: error)
    }
  }
}

struct KPStockCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kpstock",
    abstract: "Supply planning for HIV key-population programmes: sites, commodities, norms, supply lines and stock.",
    discussion: """
      With no --database-url, DATABASE_URL or PG* variables, kpstock runs its own PostgreSQL cluster \
      (data in $KPSTOCK_HOME, else the XDG data folder; /var/lib/kpstock when run as root). \
      Start with 'kpstock demo'. Stock is recorded with receive, dispense, adjust, count, transfer and undo, \
      and read with stock and stock-card.
      """,
    subcommands: [
      DemoCommand.self, DatabaseCommand.self, CountyCommand.self, PopulationCommand.self, SiteCommand.self,
      CommodityCommand.self, NormCommand.self, SupplyLineCommand.self, ImportCommand.self, SettingsCommand.self,
      ReceiveCommand.self, DispenseCommand.self, AdjustCommand.self, CountCommand.self, TransferCommand.self,
      UndoCommand.self, StockCommand.self, StockCardCommand.self, LedgerCommand.self, ReasonCommand.self,
      OutreachCommand.self, SizeEstimateCommand.self, ForecastCommand.self, OrdersCommand.self, WeeklyCommand.self,
      MatCommand.self, ReportCommand.self, UserCommand.self, AuditCommand.self, PrivacyCommand.self,
      SimulateCommand.self,
    ])
}

private func fail(_ error: KPStockError) -> Never {
  for line in error.details { Console.error(line) }
  Console.error("kpstock: error: \(error.message)")
  exit(error.kind == .badInput ? 2 : 1)
}

/// Diagnostics (cluster start-up, retries) go to stderr at the level `KPSTOCK_LOG_LEVEL` names
/// (trace, debug, info, notice, warning, error, critical); the default shows only warnings and worse.
private func bootstrapLogging() {
  let name = ProcessInfo.processInfo.environment["KPSTOCK_LOG_LEVEL"]?.lowercased() ?? ""
  let level = Logger.Level(rawValue: name) ?? .warning
  LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = level
    return handler
  }
}
