import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

@Suite("Files with personal identifier columns")
struct IdentifierColumnTests {
  @Test func identifierColumnsAreKnownWhateverTheirCaseSpacesOrDashes() {
    for column in [
      "name", "First Name", "last-name", "SURNAME", "full_name", "Client Name", "phone", "Phone Number", "mobile",
      "MSISDN", "tel", "telephone", "id_number", "ID No", "national_id", "National ID Number", "passport", "NHIF",
      "huduma", "email", "address", "dob", "Date of Birth", "client_phone_2",
    ] {
      #expect(PersonalIdentifiers.isIdentifierColumn(column), "\(column)")
    }
    for column in [
      "site", "commodity", "uic", "client", "worker", "witness", "note", "code", "county", "county_name",
      "sub_county", "dhis2_uid", "hotspot", "source", "key", "line", "problem", "reason", "override", "take_home",
    ] {
      #expect(!PersonalIdentifiers.isIdentifierColumn(column), "\(column)")
    }
  }

  /// The columns the register importers read are none of them an identifier, so a file is refused only for a column
  /// it should not hold; only reference tables own a `name`, and say so.
  @Test func noRegisterImporterDeclaresAnIdentifierColumn() {
    var declared = MATDoseImport.required + MATDoseImport.optional + LedgerImportKind.rejectionColumns
    for kind in LedgerImportKind.allCases { declared += kind.requiredColumns + kind.optionalColumns }
    for kind in OutreachImportKind.allCases { declared += kind.requiredColumns + kind.optionalColumns }
    #expect(declared.filter(PersonalIdentifiers.isIdentifierColumn).isEmpty)
  }

  @Test func aReferenceFilesNameImportsButAPhoneColumnBesideItDoesNot() throws {
    let store = try TestDatabase.fresh().store()
    try Seeds.loadKwaleDemo(store)
    let header = "code,name,category,base_unit,pack_size"
    let row = "FEMALE-CONDOM-2,Female condom (new),condom,piece,20"
    let plain = try CSVReader.parse(Array("\(header)\n\(row)\n".utf8), fileName: "c.csv")
    #expect(try ReferenceImport.load(.commodities, from: plain, into: store, dryRun: true).inserted == 1)

    let withPhone = try CSVReader.parse(Array("\(header),phone\n\(row),0712345678\n".utf8), fileName: "c.csv")
    let error = try #require(throws: KPStockError.self) {
      try ReferenceImport.load(.commodities, from: withPhone, into: store, dryRun: true)
    }
    #expect(error.kind == .badInput)
    #expect(error.message.hasPrefix("c.csv:1: column 'phone' looks like a personal identifier"))
  }
}
