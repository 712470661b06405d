import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("No personal identifiers in free text and UICs")
struct PrivacyTests {
  /// Migration 0022 pins the patterns a new note or UIC may not hold; privacy_findings searches stored rows with
  /// Schema/functions/96_privacy.sql's copy. What one calls a number, the other must.
  @Test func theEntryChecksAndThePrivacyCheckAgreeOnWhatIsANumber() throws {
    let connection = try TestDatabase.fresh().connect()
    let samples = [
      ("0712345678", true), ("0712 345 678", true), ("call 0712-345-678 today", true), ("+254 712 345 678", true),
      ("254712345678", true), ("0110 123 456", true), ("ID 23456789", true), ("passport AK1234567", true),
      ("box 3 of 12", false), ("delivered 2026-11-30", false), ("lot MB-2611 exp 2028-06-30", false),
      ("1,000,000 pieces", false), ("from 07 to 12 March", false), ("KWL-010234-R", false),
    ]
    for (text, isNumber) in samples {
      let found: Bool = try connection.query("SELECT privacy_identifier_found(\(text)) AS found")[0].decode("found")
      #expect(found == isNumber, "\(text)")
      let refused = (try? connection.query("SELECT \(text)::stock_event_note")) == nil
      #expect(refused == isNumber, "\(text) as a ledger note")
    }
  }

  @Test func aNumberIsShownWithMostOfItsDigitsHidden() throws {
    let connection = try TestDatabase.fresh().connect()
    let rows = try connection.query(
      """
      SELECT i.kind, privacy_mask(i.kind, i.found) AS masked
      FROM privacy_identifiers('call 0712345678 or +254 722 111 222, ID 23456789') i ORDER BY 1, 2
      """)
    let masked: [String] = try rows.map { try $0.decode("masked") }
    #expect(masked == ["••••••89", "+254 7•• ••• 222", "07•••••678"])
  }

  /// A UIC written before migration 0022 (as it stands in an upgraded database) is kept, and listed.
  @Test func aUICFromBeforeTheDigitCheckIsListedAndANewOneRefused() throws {
    let database = try TestDatabase.fresh()
    let store = try openAsKPStock(database)
    try Seeds.loadKwaleDemo(store)
    try Ledger.post(
      store,
      Receipt(
        site: "DICE-UKUNDA", commodity: "MALE-CONDOM", lot: "L1", expiry: CalendarDate("2030-01-31"), quantity: 100))
    let dispensing = Dispensing(
      site: "DICE-UKUNDA", commodity: "MALE-CONDOM", quantity: 1, population: "FSW", channel: .clinic,
      client: "JANE-WANJIRU-0712345678")
    let refusal = try #require(throws: FieldError.self) { try Ledger.post(store, dispensing) }
    #expect(refusal.field == "client")

    let connection = try database.connect()
    try connection.execute("ALTER DOMAIN client_uic DROP CONSTRAINT stock_events_client_uic_digits")
    let posting = try Ledger.post(store, dispensing)
    try connection.execute(
      "ALTER DOMAIN client_uic ADD CONSTRAINT stock_events_client_uic_digits CHECK (VALUE !~ '[0-9]{7}') NOT VALID")

    let findings = try PrivacyCheck.findings(store)
    #expect(findings.count == 1)
    let finding = try #require(findings.first)
    #expect(finding.table == "stock_events")
    #expect(finding.row == String(posting.events[0].id))
    #expect(finding.siteCode == "DICE-UKUNDA")
    #expect(finding.column == "client_uic")
    #expect(finding.kind == "phone number")
    #expect(finding.masked == "07•••••678")
  }
}
