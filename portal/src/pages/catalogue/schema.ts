/** What an event type's schemas say: versions, properties and examples (Svix: `schemas` = {version: JSON Schema}). */

export interface SchemaProperty {
  name: string;
  type: string;
  description: string;
  required: boolean;
}

export interface SchemaVersion {
  version: string;
  schema: Record<string, unknown>;
  properties: SchemaProperty[];
  examples: unknown[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeOf(schema: Record<string, unknown>): string {
  const type = schema.type;
  let base = typeof schema.$ref === "string" ? schema.$ref : "any";
  if (typeof type === "string") {
    base = type === "array" && isRecord(schema.items) ? `array of ${typeOf(schema.items)}` : type;
  } else if (Array.isArray(type)) {
    base = type.filter((part) => typeof part === "string").join(" or ");
  }
  if (Array.isArray(schema.enum)) {
    return `${base === "any" ? "" : `${base}, `}one of ${schema.enum.map((value) => JSON.stringify(value)).join(", ")}`;
  }
  return base;
}

/** The schema's versions, newest first (Svix sends examples of version "1"). */
export function schemaVersions(schemas: unknown): SchemaVersion[] {
  if (!isRecord(schemas)) {
    return [];
  }
  return Object.entries(schemas)
    .filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1]))
    .sort(([a], [b]) => b.localeCompare(a, undefined, { numeric: true }))
    .map(([version, schema]) => {
      const required = new Set(Array.isArray(schema.required) ? schema.required : []);
      const properties = isRecord(schema.properties)
        ? Object.entries(schema.properties).map(([name, property]) => ({
            name,
            type: isRecord(property) ? typeOf(property) : "any",
            description: isRecord(property) && typeof property.description === "string" ? property.description : "",
            required: required.has(name),
          }))
        : [];
      return { version, schema, properties, examples: Array.isArray(schema.examples) ? schema.examples : [] };
    });
}

/**
 * The examples send-example can send, by their index: those of the version Herald reads (as Svix:
 * version "1", else the highest numbered one) that are JSON objects.
 */
export function sendableExamples(schemas: unknown): { index: number; example: Record<string, unknown> }[] {
  const versions = schemaVersions(schemas);
  const read =
    versions.find((version) => version.version === "1") ?? versions.find((version) => /^\d+$/.test(version.version));
  return (read?.examples ?? []).flatMap((example, index) => (isRecord(example) ? [{ index, example }] : []));
}
