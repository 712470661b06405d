#ifndef KPSTOCK_CLIBPQ_SHIM_H
#define KPSTOCK_CLIBPQ_SHIM_H

#include <libpq-fe.h>

/*
 * libpq defines the PG_DIAG_* field codes as character literals ('C', 'M', ...),
 * which Swift's importer does not bring across. Re-export them as constants so the
 * Swift side can ask PQresultErrorField for each diagnostic field by name.
 */
static const int CLIBPQ_DIAG_SEVERITY = PG_DIAG_SEVERITY;
static const int CLIBPQ_DIAG_SEVERITY_NONLOCALIZED = PG_DIAG_SEVERITY_NONLOCALIZED;
static const int CLIBPQ_DIAG_SQLSTATE = PG_DIAG_SQLSTATE;
static const int CLIBPQ_DIAG_MESSAGE_PRIMARY = PG_DIAG_MESSAGE_PRIMARY;
static const int CLIBPQ_DIAG_MESSAGE_DETAIL = PG_DIAG_MESSAGE_DETAIL;
static const int CLIBPQ_DIAG_MESSAGE_HINT = PG_DIAG_MESSAGE_HINT;
static const int CLIBPQ_DIAG_STATEMENT_POSITION = PG_DIAG_STATEMENT_POSITION;
static const int CLIBPQ_DIAG_CONTEXT = PG_DIAG_CONTEXT;
static const int CLIBPQ_DIAG_SCHEMA_NAME = PG_DIAG_SCHEMA_NAME;
static const int CLIBPQ_DIAG_TABLE_NAME = PG_DIAG_TABLE_NAME;
static const int CLIBPQ_DIAG_COLUMN_NAME = PG_DIAG_COLUMN_NAME;
static const int CLIBPQ_DIAG_DATATYPE_NAME = PG_DIAG_DATATYPE_NAME;
static const int CLIBPQ_DIAG_CONSTRAINT_NAME = PG_DIAG_CONSTRAINT_NAME;

#endif
