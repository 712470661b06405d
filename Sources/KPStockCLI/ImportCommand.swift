import ArgumentParser
import Foundation
import KPStock

struct ImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Load reference data or paper registers from CSV files, all or nothing.",
    discussion: """
      Each file needs a header row. Reference data: columns are as in 'kpstock <thing> list --format csv';
      rows whose code exists replace it. Registers (dispensing, receipts, adjustments, counts) are posted to
      the stock ledger under the same rules as the commands; a row's idempotency key is its 'key' column or
      its content, so importing a file twice posts it once. Every bad row is reported as
      FILE:LINE: column: problem, and then nothing is written (unless --skip-invalid).
      """,
    subcommands: [
      Sites.self, Commodities.self, Norms.self, SupplyLines.self, Dispensing.self, Receipts.self, Adjustments.self,
      Counts.self, Outreach.self, PeerNeed.self, SizeEstimates.self, MatDoses.self,
    ])

  struct FileOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "CSV file (UTF-8, with or without BOM; CRLF or LF).") var file: String
    @Flag(name: .customLong("dry-run"), help: "Check the file and report what would change; write nothing.")
    var dryRun = false

    func run(_ table: ReferenceTable) throws {
      let csv = try CSVReader.read(path: file)
      let store = try database.open()
      let summary = try ReferenceImport.load(table, from: csv, into: store, dryRun: dryRun)
      Console.output((dryRun ? "dry run, nothing written: " : "") + summary.description + "\n")
    }
  }

  struct Sites: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import sites: code,name,kind,county[,sub_county,dhis2_uid,opened_on,closed_on].",
      discussion: "Example: kpstock import sites new-sites.csv --dry-run")
    @OptionGroup var options: FileOptions
    func run() throws { try options.run(.sites) }
  }

  struct Commodities: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Import commodities: code,name,category,base_unit,pack_size[,pack_rounding_threshold,lot_tracked,controlled].")
    @OptionGroup var options: FileOptions
    func run() throws { try options.run(.commodities) }
  }

  struct Norms: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import norms: commodity,population,per_person_per_week,effective_from,source[,county,site].")
    @OptionGroup var options: FileOptions
    func run() throws { try options.run(.norms) }
  }

  struct SupplyLines: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "supply-lines",
      abstract:
        "Import supply lines: site,category and supplier or external_supplier[,lead_time_days,review_period_days,safety_stock_weeks,variant,emergency_order_point_weeks]."
    )
    @OptionGroup var options: FileOptions
    func run() throws { try options.run(.supplyLines) }
  }

  struct RegisterOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "CSV file (UTF-8, with or without BOM; CRLF or LF).") var file: String
    @Flag(name: .customLong("dry-run"), help: "Check the file and report what would be posted; write nothing.")
    var dryRun = false
    @Flag(
      name: .customLong("skip-invalid"),
      help: "Post the valid rows and write the rejected ones, with their problems, to --rejected.")
    var skipInvalid = false
    @Option(help: "Where --skip-invalid writes rejected rows (default: FILE.rejected.csv).") var rejected: String?

    func run(_ kind: LedgerImportKind) throws {
      let store = try database.open()
      let large = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int).flatMap { $0 } ?? 0
      let showProgress = isatty(STDERR_FILENO) == 1 && large > 4_000_000
      let report = try LedgerImport.run(
        store, kind: kind, path: file, dryRun: dryRun, skipInvalid: skipInvalid,
        rejectedFile: rejected ?? file + ".rejected.csv",
        progress: showProgress ? { Console.notice("import \(kind.rawValue): \($0)") } : nil)
      Console.output(report.summary)
    }
  }

  /// Outreach files: checked like registers, saved as reports (a correction replaces a row and keeps the old one).
  struct OutreachOptions: ParsableArguments {
    @OptionGroup var register: RegisterOptions

    func run(_ kind: OutreachImportKind) throws {
      let options = register
      let store = try options.database.open()
      let report = try OutreachImport.run(
        store, kind: kind, path: options.file, dryRun: options.dryRun, skipInvalid: options.skipInvalid,
        rejectedFile: options.rejected ?? options.file + ".rejected.csv")
      Console.output(report.summary)
    }
  }

  struct Outreach: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import people reached: site,week,population,reached[,new,worker,hotspot,key].",
      discussion: "week is an ISO week, 2026-W47. Example: kpstock import outreach kwale-w47.csv --dry-run")
    @OptionGroup var options: OutreachOptions
    func run() throws { try options.run(.reach) }
  }

  struct PeerNeed: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "peer-need",
      abstract: "Import need reported by peers: site,week,population,commodity,qty[,key].")
    @OptionGroup var options: OutreachOptions
    func run() throws { try options.run(.peerNeed) }
  }

  struct SizeEstimates: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "size-estimates",
      abstract: "Import size estimates: area,population,year,size,source (area: a site or county code).")
    @OptionGroup var options: OutreachOptions
    func run() throws { try options.run(.sizeEstimates) }
  }

  struct MatDoses: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "mat-doses",
      abstract: "Import a MAT dosing register: site,client,witness,date[,mg,take_home,override,note,key].",
      discussion: """
        Each row is a dose as kpstock mat dose records it, under the same rules; all or nothing. mg empty: the \
        prescribed dose.
        Example: kpstock import mat-doses kombani-2026-11-30.csv --dry-run
        """)
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "CSV file (UTF-8, with or without BOM; CRLF or LF).") var file: String
    @Flag(name: .customLong("dry-run"), help: "Check the file and report what would be posted; write nothing.")
    var dryRun = false

    func run() throws {
      let store = try database.open()
      Console.output(try MATDoseImport.run(store, path: file, dryRun: dryRun).summary)
    }
  }

  struct Dispensing: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import dispensing: site,commodity,qty,date,population,channel[,lot,worker,client,note,key].",
      discussion: "Example: kpstock import dispensing ukunda-march.csv --dry-run")
    @OptionGroup var options: RegisterOptions
    func run() throws { try options.run(.dispensing) }
  }

  struct Receipts: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import receipts: site,commodity,qty,date[,lot,expiry,note,key].")
    @OptionGroup var options: RegisterOptions
    func run() throws { try options.run(.receipts) }
  }

  struct Adjustments: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Import adjustments: site,commodity,qty,reason,date[,lot,expiry,note,key].",
      discussion: "qty is the quantity moved; the reason decides the direction (correction needs +N or -N).")
    @OptionGroup var options: RegisterOptions
    func run() throws { try options.run(.adjustments) }
  }

  struct Counts: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Import counts: site,commodity,qty,date[,lot,expiry,reason,note,key] (qty = counted at the end of date).")
    @OptionGroup var options: RegisterOptions
    func run() throws { try options.run(.counts) }
  }
}
