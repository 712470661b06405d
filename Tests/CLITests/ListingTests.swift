import Foundation
import KPStock
import Testing

@testable import KPStockCLI

@Suite("Listing output")
struct ListingTests {
  let listing = Listing(
    columns: ["code", "name", "pack_size", "lot_tracked", "closed_on"],
    rows: [
      [.text("MALE-CONDOM"), .text("Male condom, \"box\""), .integer(144), .boolean(true), .empty],
      [.text("NS-SET"), .text("=cmd()"), .integer(100), .boolean(false), .text("2026-12-31")],
    ])

  @Test func tablesAlignColumnsAndRightAlignNumbers() {
    let lines = listing.rendered(as: .table).split(separator: "\n").map(String.init)
    #expect(lines[0].hasPrefix("CODE         NAME"))
    #expect(lines[1].contains(" 144  true"))
    #expect(lines[2].contains(" 100  false"))
    #expect(Set(lines.map { $0.firstRange(of: "PACK SIZE")?.lowerBound.utf16Offset(in: $0) ?? -1 }).count >= 1)
  }

  @Test func csvQuotesWhereNeededAndDefusesFormulas() {
    #expect(
      listing.rendered(as: .csv)
        == "code,name,pack_size,lot_tracked,closed_on\nMALE-CONDOM,\"Male condom, \"\"box\"\"\",144,true,\n"
        + "NS-SET,'=cmd(),100,false,2026-12-31\n")
  }

  @Test func jsonIsAnArrayOfObjectsWithTypedValues() throws {
    let data = Data(listing.rendered(as: .json).utf8)
    let objects = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    #expect(objects.count == 2)
    #expect(objects[0]["name"] as? String == "Male condom, \"box\"")
    #expect(objects[0]["pack_size"] as? Int == 144)
    #expect(objects[0]["lot_tracked"] as? Bool == true)
    #expect(objects[0]["closed_on"] is NSNull)
  }

  @Test func anEmptyListingIsStillValidOutput() {
    let empty = Listing(columns: ["code"], rows: [])
    #expect(empty.rendered(as: .json) == "[]\n")
    #expect(empty.rendered(as: .csv) == "code\n")
    #expect(empty.rendered(as: .table) == "CODE\n(none)\n")
  }
}
