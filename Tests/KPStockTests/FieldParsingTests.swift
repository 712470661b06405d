import Foundation
import KPStock
import Postgres
import Testing

@Suite("Field parsing")
struct FieldParsingTests {
  func problem(_ body: () throws(FieldError) -> some Any) -> String? {
    do {
      _ = try body()
      return nil
    } catch {
      return error.description
    }
  }

  @Test func codesAreUpperCasedAndCheckedForShape() throws {
    #expect(try FieldParsing.newCode(" dice-likoni ", field: "code") == "DICE-LIKONI")
    #expect(problem { () throws(FieldError) in try FieldParsing.newCode("-X", field: "code") } != nil)
    #expect(problem { () throws(FieldError) in try FieldParsing.newCode("A", field: "code") } != nil)
    #expect(problem { () throws(FieldError) in try FieldParsing.newCode("DICE UKUNDA", field: "code") } != nil)
    #expect(
      problem { () throws(FieldError) in try FieldParsing.newCode(String(repeating: "A", count: 33), field: "code") }
        != nil)
  }

  @Test func wholeNumbersMustBeInRange() throws {
    #expect(try FieldParsing.integer("144", field: "pack_size", range: 1...1000) == 144)
    #expect(
      problem { () throws(FieldError) in try FieldParsing.integer("0", field: "pack_size", range: 1...1000) }
        == "pack_size: 0 is out of range (1–1000)")
    #expect(
      problem { () throws(FieldError) in try FieldParsing.integer("1.5", field: "pack_size", range: 1...9) }
        == "pack_size: '1.5' is not a whole number")
  }

  @Test func decimalsRejectExponentsAndTooManyPlaces() throws {
    #expect(try FieldParsing.decimal("5.7692", field: "q", range: 0...10) == Decimal(string: "5.7692"))
    #expect(
      problem { () throws(FieldError) in try FieldParsing.decimal("1e3", field: "q", range: 0...10000) }
        == "q: '1e3' is not a number")
    #expect(
      problem { () throws(FieldError) in try FieldParsing.decimal("0.12345", field: "q", range: 0...1) }
        == "q: '0.12345' has more than 4 decimal places")
    #expect(problem { () throws(FieldError) in try FieldParsing.decimal("-1", field: "q", range: 0...1) } != nil)
  }

  @Test func datesMustExist() throws {
    #expect(try FieldParsing.date("2028-02-29", field: "d") == CalendarDate(year: 2028, month: 2, day: 29))
    #expect(
      problem { () throws(FieldError) in try FieldParsing.date("2026-02-29", field: "d") }
        == "d: '2026-02-29' is not a date (YYYY-MM-DD)")
    #expect(problem { () throws(FieldError) in try FieldParsing.date("23/11/2026", field: "d") } != nil)
  }

  @Test func booleansAcceptTheWordsSpreadsheetsUse() throws {
    #expect(try FieldParsing.boolean("Yes", field: "b"))
    #expect(try !FieldParsing.boolean("FALSE", field: "b"))
    #expect(problem { () throws(FieldError) in try FieldParsing.boolean("maybe", field: "b") } != nil)
  }

  @Test func textRefusesControlCharacters() {
    #expect(
      problem { () throws(FieldError) in try FieldParsing.requiredText("a\u{7}b", field: "name") }
        == "name: contains a control character")
    #expect(
      problem { () throws(FieldError) in try FieldParsing.requiredText("  ", field: "name") }
        == "name: must not be empty")
  }
}

@Suite("Code lookup")
struct CodeLookupTests {
  let sites = CodeLookup(noun: "site", codes: ["DICE-UKUNDA", "DICE-KWALE", "STORE-KWALE", "SAT-MATUGA"])

  @Test func codesAreCaseInsensitive() throws {
    #expect(try sites.resolve(" dice-ukunda", field: "site") == "DICE-UKUNDA")
  }

  @Test func anUnknownCodeSuggestsTheNearestOne() {
    #expect(sites.unknownMessage("DICE-UKUNDAA") == "unknown site 'DICE-UKUNDAA' (did you mean DICE-UKUNDA?)")
    #expect(sites.unknownMessage("sat-matuaga") == "unknown site 'sat-matuaga' (did you mean SAT-MATUGA?)")
  }

  @Test func aCodeFarFromAnyKnownOneGetsNoGuess() {
    #expect(sites.unknownMessage("HOSPITAL-X") == "unknown site 'HOSPITAL-X'")
  }
}
