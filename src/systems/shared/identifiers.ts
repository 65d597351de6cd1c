/**
 * SQL identifiers for every SQL adapter. Identifiers cannot be bound as parameters, so they are
 * validated against a strict pattern AND double-quoted; a name that fails the pattern never
 * reaches a statement. Values always go through the driver's parameters, never through here.
 */

/** Table / column / schema names we generate or accept from data-set contracts. */
export const SQL_IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export class InvalidIdentifierError extends Error {}

export function assertIdentifier(name: string, what = 'identifier'): string {
  if (!SQL_IDENTIFIER_PATTERN.test(name)) {
    throw new InvalidIdentifierError(
      `invalid ${what} ${JSON.stringify(name)}: must match ${SQL_IDENTIFIER_PATTERN} (lower-case letters, digits, underscores)`,
    );
  }
  return name;
}

/** `"name"` — standard SQL quoting (PostgreSQL, SQLite, DuckDB). Validates first. */
export function quoteIdent(name: string, what?: string): string {
  return `"${assertIdentifier(name, what).replaceAll('"', '""')}"`;
}

/** `"schema"."name"` */
export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema, 'schema name')}.${quoteIdent(name, 'table name')}`;
}
