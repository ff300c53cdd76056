// The guide's walk through a TypeScript client generated from /openapi.json
// (openapi-typescript's types, openapi-fetch's calls), as a newcomer would write it.
// tests/contract/test_generated_clients.py checks it with `tsc --noEmit`, then runs
// it with Node against a live server: RELAY_BASE_URL, and RELAY_API_KEY a key of a
// tenant with no datasets. It prints "walked" at the end, and exits 1 at the first
// answer that is not the one the guide says.
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    console.error(`walk: ${what}`);
    process.exit(1);
  }
}

const baseUrl = process.env["RELAY_BASE_URL"];
const adminKey = process.env["RELAY_API_KEY"];
check(baseUrl !== undefined && adminKey !== undefined, "RELAY_BASE_URL and RELAY_API_KEY");
const admin = createClient<paths>({ baseUrl, headers: { "X-API-Key": adminKey } });

// Create a key: the full key is in this answer only.
const created = await admin.POST("/api/v1/auth/api-keys", {
  body: { name: "Production Server", expires_at: "2030-12-31T23:59:59Z" },
});
check(created.response.status === 201 && created.data !== undefined, "create a key");
const key = created.data;
check(key.key.startsWith(key.key_prefix) && key.scopes.length === 0, "the created key");

// List keys: a bare array, never the key itself.
const listed = await admin.GET("/api/v1/auth/api-keys");
check(listed.data !== undefined, "list keys");
const shown = listed.data.find((each) => each.id === key.id);
check(shown !== undefined && !("key" in shown), "the new key listed, without its key");

// Use the key: list datasets, create, patch, page with a cursor, delete.
const relay = createClient<paths>({ baseUrl, headers: { "X-API-Key": key.key } });
const empty = await relay.GET("/api/v1/datasets");
check(empty.data !== undefined && empty.data.total === 0, "an empty list of datasets");
const names = ["Street scenes", "Aerial", "Night drive"];
const ids: string[] = [];
for (const name of names) {
  const made = await relay.POST("/api/v1/datasets", {
    body: { name, artifact_types: [{ name: "bounding_box", color: "#3B82F6" }] },
  });
  check(made.response.status === 201 && made.data !== undefined, `create ${name}`);
  ids.push(made.data.id);
}
const [firstId, , lastId] = ids;
check(firstId !== undefined && lastId !== undefined, "three datasets");
const patched = await relay.PATCH("/api/v1/datasets/{dataset_id}", {
  params: { path: { dataset_id: firstId } },
  body: { name: "Renamed" },
});
check(patched.data?.name === "Renamed", "rename a dataset");
const first = await relay.GET("/api/v1/datasets", { params: { query: { page_size: 2 } } });
check(first.data !== undefined && first.data.total === 3, "the first page");
const cursor = first.data.next_cursor;
check(typeof cursor === "string" && first.data.items[0]?.id === lastId, "newest first");
const second = await relay.GET("/api/v1/datasets", {
  params: { query: { cursor, page_size: 2 } },
});
check(second.data !== undefined && second.data.next_cursor === null, "the last page");
check(second.data.items.map((each) => each.name).join() === "Renamed", "the page after it");
const deleted = await relay.DELETE("/api/v1/datasets/{dataset_id}", {
  params: { path: { dataset_id: lastId } },
});
check(deleted.response.status === 204, "delete a dataset");

// Revoke the key: refused from the very next request, with the guide's text and a code.
const revoked = await admin.DELETE("/api/v1/auth/api-keys/{key_id}", {
  params: { path: { key_id: key.id } },
});
check(revoked.response.status === 204, "revoke the key");
const refused = await relay.GET("/api/v1/datasets");
check(refused.response.status === 401 && refused.error !== undefined, "401 after revoking");
check(refused.error.code === "invalid_api_key", "the 401's code");
check(refused.error.detail === "Invalid or missing API key", "the 401's detail");
console.log("walked");
