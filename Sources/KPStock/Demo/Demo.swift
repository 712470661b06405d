import Postgres

/// `kpstock demo`: the Kwale network loaded from nothing, and a short tour of what exists.
public enum Demo {
  /// What the tour shows: the reference data, Kwale's network, and one site's stock with one commodity's card.
  public struct Tour: Sendable {
    public var counties: Int
    public var populations: Int
    /// Kwale's sites and the supply lines between them.
    public var sites: [Site]
    public var supplyLines: [SupplyLine]
    public var commodities: [Commodity]
    public var normsInForce: Int
    /// The site whose stock is shown, and its stock by lot; empty before any history is written.
    public var site: String
    public var stock: [StockLine]
    /// The commodity of the stock card, and its card at `site` over the last days.
    public var commodity: String
    public var cardFrom: CalendarDate
    public var cardTo: CalendarDate
    public var stockCard: [StockCardLine]
  }

  /// Weeks of synthetic stock history the demo writes: receipts, transfers, dispensing, expiry, a stock-out or two,
  /// and the 20 weeks of reports and consumption the coming week's forecast reads (12 weeks before each of the
  /// back-test's 8 origins), while the demo stays quick (the simulate command defaults to 26).
  public static let simulatedWeeks = 20
  /// The county whose coming week the demo forecasts.
  static let forecastCounty = "002"
  /// The site the tour shows stock for, and the commodity of its stock card: needle-syringe sets move in every
  /// way (in from the store, out to two satellites, to PWID by outreach and at the clinic) yet few enough times
  /// that two weeks fit on a screen or two, where male condoms would take some 200 lines.
  static let tourSite = "DICE-UKUNDA"
  static let tourCommodity = "NS-SET"
  static let stockCardDays = 14

  /// Loads reference data and the Kwale network in one transaction (idempotent: a second run adds nothing).
  /// One login per daily role, for trying what each may see: `KPSTOCK_USER=kwale_viewer kpstock report …`.
  public static let users: [(name: String, role: String, sites: [String], counties: [String])] = [
    ("kwale_pharmacist", "pharmacist", ["DICE-UKUNDA", "MAT-KOMBANI"], []),
    ("kwale_logistics", "logistics", [], ["Kwale"]),
    ("kwale_viewer", "county-viewer", [], ["Kwale"]),
    ("kwale_admin", "admin", [], []),
  ]

  public static func load(_ store: Store) throws -> Seeds.Result {
    try store.run { try load($0) }
  }

  static func load(_ connection: Connection) throws -> Seeds.Result {
    try connection.transaction { connection in
      var result = try Seeds.loadReference(connection)
      result.added.merge(try Seeds.loadKwaleDemo(connection).added) { $0 + $1 }
      result.added.merge(try Seeds.loadKwaleSizeEstimates(connection).added) { $0 + $1 }
      // The demo's programme allows two take-home days at a time (the register's default allows none until a
      // programme decides), so its history shows some.
      try connection.execute("UPDATE mat_settings SET take_home_max_days = 2 WHERE take_home_max_days = 0")
      for user in users {
        try Users.add(connection, name: user.name, role: user.role, sites: user.sites, counties: user.counties)
      }
      return result
    }
  }

  /// Writes the Kwale stock history up to today (seed 1). A second run the same day adds nothing; a later run
  /// adds the days since.
  public static func simulate(_ store: Store, progress: ((SimulationProgress) -> Void)? = nil) throws
    -> SimulationReport
  {
    try store.run { try simulate($0, progress: progress) }
  }

  static func simulate(
    _ connection: Connection, progress: ((SimulationProgress) -> Void)? = nil
  ) throws -> SimulationReport {
    try Simulator.run(connection, profile: .kwale, weeks: simulatedWeeks, seed: 1, progress: progress)
  }

  /// The forecast of the coming week for Kwale: the run made today if there is one (a second demo the same day adds
  /// nothing), else a new one.
  public static func forecast(_ store: Store) throws -> ForecastRun {
    let existing = try store.run { connection in
      let week: CalendarDate = try connection.query("SELECT forecast_coming_week() AS week")[0].decode("week")
      let today = try ProgrammeCalendar.today(connection)
      return try Forecast.runs(connection, week: week).first {
        $0.countyCode == forecastCounty && $0.madeOn == today
      }
    }
    return try existing ?? Forecast.run(store, county: forecastCounty)
  }

  /// Weeks before the coming one that the demo forecasts as a logistics officer would have, each on the Sunday
  /// before it: the need the reports compare consumption with.
  static let pastForecastWeeks = 8

  /// The forecasts of the weeks before the coming one, each made as it would have been on the Sunday before the
  /// week (with that day as the programme's today), from what had happened by then; a week already forecast is left
  /// alone. Returns how many runs were made.
  @discardableResult
  public static func pastForecasts(_ store: Store) throws -> Int {
    try store.run { connection in
      let coming: CalendarDate = try connection.query("SELECT forecast_coming_week() AS week")[0].decode("week")
      var made = 0
      for back in stride(from: pastForecastWeeks, through: 1, by: -1) {
        let week = coming.adding(days: -7 * back)
        if try !Forecast.runs(connection, week: week).filter({ $0.countyCode == forecastCounty }).isEmpty { continue }
        try connection.transaction { connection in
          try connection.query("SELECT set_config('kpstock.today', \(week.adding(days: -1).description), true)")
          try connection.query("SELECT forecast_run(\(week), \(forecastCounty)::char(3))")
        }
        made += 1
      }
      return made
    }
  }

  /// The MAT clinic the demo shows.
  public static let matClinic = "MAT-KOMBANI"

  /// MAT-KOMBANI's clients today by status, and its last month's figures for the national methadone report.
  public static func methadone(_ store: Store) throws -> (
    statuses: [(status: String, clients: Int)], month: String, figures: [(figure: String, value: String)]
  ) {
    let clients = try Methadone.clients(store, site: matClinic)
    let statuses = Methadone.statuses.map { status in (status, clients.filter { $0.status == status }.count) }
    let window = try Reports.window(store, scope: .site(matClinic), period: nil, default: .lastMonth)
    let month = window.period.label
    return (statuses, month, try Methadone.monthlyReport(store, site: matClinic, month: month))
  }

  /// The county report of Kwale for the last month that ended: every part, as `kpstock report county` makes it.
  public static func countyReport(_ store: Store) throws -> ReportDocument {
    let window = try Reports.window(store, scope: .county(forecastCounty), period: nil, default: .lastMonth)
    return try Reports.document(store, window, parts: ReportPart.allCases)
  }

  /// The orders of the demo's forecast run: generated once (a second demo the same day shows the same drafts), with
  /// the run's warnings.
  public static func orders(_ store: Store, run: Int64) throws -> ([Order], [OrderLine], [OrderWarning]) {
    var orders = try Orders.list(store, OrderFilter(run: run)).filter { $0.status != "cancelled" }
    var warnings = try Orders.warnings(store, run: run)
    if orders.isEmpty {
      (orders, warnings) = try Orders.generate(store, run: run)
    }
    let lines = try Orders.lines(store, run: run).filter { $0.status != "cancelled" }
    return (orders, lines, warnings)
  }

  public static func tour(_ store: Store) throws -> Tour {
    try store.run { try tour($0) }
  }

  static func tour(_ connection: Connection) throws -> Tour {
    let reference = try ReferenceData.load(connection)
    let today = try ProgrammeCalendar.today(connection)
    let from = today.adding(days: 1 - stockCardDays)
    let stock = try StockQueries.stock(connection, site: tourSite)
    return Tour(
      counties: reference.counties.count, populations: reference.populations.codes.count,
      sites: try SiteCatalog.list(connection, filter: SiteFilter(countyCode: "002")),
      supplyLines: try SupplyLineCatalog.list(connection, filter: SupplyLineFilter(countyCode: "002")),
      commodities: try CommodityCatalog.list(connection),
      normsInForce: try NormCatalog.list(connection, on: today).count, site: tourSite, stock: stock,
      commodity: tourCommodity, cardFrom: from, cardTo: today,
      stockCard: stock.isEmpty
        ? [] : try StockQueries.stockCard(connection, site: tourSite, commodity: tourCommodity, from: from, to: today))
  }
}
