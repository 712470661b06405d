import ArgumentParser
import Foundation
import KPStock

/// Runs the command and turns a kpstock error into its message and exit status: 2 for bad input,
/// 1 when the database could not do the work.
@main
enum Main {
  static func main() {
    do {
      var command = try KPStockCommand.parseAsRoot()
      try command.run()
    } catch let error as KPStockError {
      for line in error.details { Console.error(line) }
      Console.error("kpstock: error: \(error.message)")
      exit(error.exitCode)
    } catch {
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
    abstract: "Keeps HIV key-population programmes supplied: stock, forecasts, orders and county reports.",
    discussion: """
      With no --database-url, DATABASE_URL or PG* variables, kpstock runs its own PostgreSQL cluster
      (data in $KPSTOCK_HOME, else the XDG data folder; /var/lib/kpstock when run as root).
      """,
    subcommands: [
      DemoCommand.self, DatabaseCommand.self, SiteCommand.self, CommodityCommand.self, NormCommand.self,
      SupplyLineCommand.self, ImportCommand.self, SettingsCommand.self,
    ])
}
