package api

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// route is one method and path of the API, with what the OpenAPI document
// says about it. The router and the document are both built from routes().
type route struct {
	method  string // "" = any method (health); documented as get
	path    string // OpenAPI form relative to Prefix, e.g. "/{layer}/{collection}"
	op      string // operationId (the seed's where it has one)
	tag     string
	summary string
	desc    string
	access  access
	query   []param
	body    *body
	resp    resp
	upload  bool // multipart upload: MaxUploadBytes instead of MaxBodyBytes
	h       handlerFunc
}

// pattern is the ServeMux pattern of the route.
func (rt *route) pattern() string {
	if rt.method == "" {
		return Prefix + rt.path
	}
	return rt.method + " " + Prefix + rt.path
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// pathParams lists the {names} of the path in order.
func (rt *route) pathParams() []string {
	var out []string
	for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
		out = append(out, m[1])
	}
	return out
}

// param is a query parameter.
type param struct {
	name, typ, desc string
	required        bool
	example         any
	def             any
	enum            []string
}

// body describes a request body.
type body struct {
	contentType string // default application/json
	desc        string
	schema      map[string]any
	examples    map[string]any // name → value
}

// resp is the kind of a successful response.
type resp int

const (
	respStatus       resp = iota // {status, message?}
	respDoc                      // {status, data: object}
	respDocs                     // {status, data: [object]}
	respString                   // {status, data: string}
	respInserted                 // {status, message, data: {ok, insertedIds, err, errorIds}}
	respUpdated                  // … updatedIds
	respDeleted                  // … deletedIds
	respBulk                     // … insertedIds and updatedIds
	respFile                     // the file's bytes
	respFileInfo                 // File object (no envelope, as the seed)
	respFileInfos                // [File]
	respFileCreated              // {_id, filename}
	respFileDeleted              // {_id}
	respFileMetadata             // {key, update}
	respSession                  // {status, data: {authToken, userId, tokenExpires}}
	respOpenAPI                  // the OpenAPI document
	respHistory                  // {status, data: [{_id, field, points}]} or CSV
)

// Common query parameters.
var (
	findParams = []param{
		{name: "query", typ: "string", desc: "MongoDB selector as JSON, e.g. {\"measurements.activePower.value\":{\"$gt\":100}} (alias: selector)", example: `{"name":"document_1"}`},
		{name: "sort", typ: "string", desc: "Sort as JSON {\"field\":1|-1,…} (keys in order) or a list \"field,-other\"", example: `{"timestamp":-1}`},
		{name: "limit", typ: "integer", desc: "Page size (default 1000, hard maximum 10000); a full page sets a Link rel=\"next\" header"},
		{name: "skip", typ: "integer", desc: "Matching documents to skip (pagination offset)", def: 0},
		{name: "fields", typ: "string", desc: "Projection as JSON {\"field\":1,…} or {\"field\":0,…}, or a list \"field,other\"", example: "name,measurements"},
	}
	fileParams = []param{
		{name: "fs", typ: "string", required: true, desc: "Bucket in which the files are stored. Initially only \"fs\" exists", example: "fs"},
		{name: "key", typ: "string", required: true, enum: []string{"id", "filename"}, desc: "Field to compare the id path parameter with", example: "filename"},
	}
)

func objectSchema(desc string) map[string]any {
	return map[string]any{"type": "object", "description": desc}
}

var docsBody = &body{desc: "Document or array of documents", schema: map[string]any{
	"oneOf": []any{map[string]any{"type": "object"}, map[string]any{"type": "array", "items": map[string]any{"type": "object"}}}},
}

func (s *Server) routes() []*route {
	return append(s.baseRoutes(), s.fleetRoutes()...)
}

// baseRoutes are the seed's routes and GridEdge's general additions.
func (s *Server) baseRoutes() []*route {
	col := "/{layer}/{collection}"
	return []*route{
		{method: "", path: "/health", op: "health", tag: "general", summary: "Service availability", access: open, resp: respString,
			desc: "Path to check the service availability. Although it would usually be called with GET, it is possible to use any method.", h: s.health},
		{method: http.MethodGet, path: "/openapi.json", op: "openapi", tag: "general", summary: "This OpenAPI document", access: open, resp: respOpenAPI, h: s.openAPI},
		{method: http.MethodPost, path: "/login", op: "login", tag: "general", summary: "Authentication", access: open, resp: respSession,
			desc: "Authentication via user (ID, name or email) and password. Stores and returns the generated token, valid until tokenExpires.",
			body: &body{schema: map[string]any{"type": "object", "required": []any{"user", "password"}, "properties": map[string]any{
				"user": map[string]any{"type": "string", "description": "User ID, name or email (also accepted: username, email)"}, "password": map[string]any{"type": "string", "format": "password"}}},
				examples: map[string]any{"login": map[string]any{"user": "my_user_name", "password": "secure_password"}}},
			h: s.login},
		{method: http.MethodPost, path: "/login/renew", op: "renewToken", tag: "general", summary: "Renew the login token", access: loggedIn, resp: respSession,
			desc: "Issues a new token with a fresh expiry for the logged-in user and revokes the one used for this call.", h: s.renew},
		{method: http.MethodPost, path: "/logout", op: "logout", tag: "general", summary: "Log out", access: loggedIn, resp: respDoc,
			desc: "Revokes the token used for this call.", h: s.logout},
		{method: http.MethodGet, path: "/me", op: "me", tag: "general", summary: "The logged user", access: loggedIn, resp: respDoc,
			desc: "Returns the ID, profile, role and grants of the caller.", h: s.me},

		{method: http.MethodGet, path: col, op: "layer_col_get", tag: "collections", summary: "Query documents from a collection", access: authenticated, resp: respDocs, query: findParams, h: s.find},
		{method: http.MethodPost, path: col, op: "layer_col_post", tag: "collections", summary: "Insert documents", access: authenticated, resp: respInserted,
			desc: "Insert one or multiple documents. When some of several documents fail, status is still success and data.err counts the failures.",
			body: &body{desc: docsBody.desc, schema: docsBody.schema, examples: map[string]any{
				"single": map[string]any{"name": "document_1"}, "multiple": []any{map[string]any{"name": "document_1"}, map[string]any{"name": "document_2"}}}},
			h: s.insert},
		{method: http.MethodPatch, path: col, op: "layer_col_patch", tag: "collections", summary: "Update documents", access: authenticated, resp: respUpdated,
			desc: "Update one or multiple documents: an object or array of objects with the _id and the fields to be updated.",
			body: &body{desc: docsBody.desc, schema: docsBody.schema, examples: map[string]any{
				"single":   map[string]any{"_id": "5df0a89f8a60e139366143e4", "name": "document_1_mod"},
				"multiple": []any{map[string]any{"_id": "5df0a89f8a60e139366143e4", "name": "document_1_mod"}, map[string]any{"_id": "5dc3c7319862be913bde4577", "name": "document_2_mod"}}}},
			h: s.updateMany},
		{method: http.MethodDelete, path: col, op: "layer_col_delete", tag: "collections", summary: "Delete documents", access: authenticated, resp: respDeleted,
			desc:  "Delete all the documents, or those matching the selector given as the query parameter or as a JSON body.",
			query: findParams[:1], h: s.deleteMany},
		{method: http.MethodGet, path: col + "/{id}", op: "layer_col_id_get", tag: "collections", summary: "Get a document", access: authenticated, resp: respDoc,
			query: findParams[4:], h: s.getOne},
		{method: http.MethodPatch, path: col + "/{id}", op: "layer_col_id_patch", tag: "collections", summary: "Update a document", access: authenticated, resp: respStatus,
			desc: "Update a document. The request body holds the fields to be updated (a $set), or MongoDB update operators ($inc, $unset, $push, …).",
			body: &body{schema: objectSchema("Fields of the document to be updated"), examples: map[string]any{"fields": map[string]any{"name": "document_1_mod"}}},
			h:    s.updateOne},
		{method: http.MethodDelete, path: col + "/{id}", op: "layer_col_id_delete", tag: "collections", summary: "Delete a document", access: authenticated, resp: respStatus, h: s.deleteOne},
		{method: http.MethodGet, path: col + "/field/{field}", op: "layer_col_field", tag: "collections", summary: "Get a specific field of the documents", access: authenticated, resp: respDocs,
			desc: "Query documents from a collection returning only the requested field (as well as _id).", query: findParams[:4], h: s.findField},
		{method: http.MethodGet, path: col + "/{id}/field/{field}", op: "layer_col_id_field", tag: "collections", summary: "Get a specific field of a document", access: authenticated, resp: respDoc,
			desc: "Get a document returning only the requested field (as well as _id).", h: s.getField},
		{method: http.MethodGet, path: "/range" + col, op: "range", tag: "collections", summary: "Query documents on a range of dates", access: authenticated, resp: respDocs,
			desc: "Returns the documents where the field's date lies between from and to (inclusive).",
			query: append([]param{
				{name: "from", typ: "date-time", required: true, desc: "Initial date (RFC 3339, a date, or milliseconds since 1970)", example: "2019-11-10T07:00:00.000Z"},
				{name: "to", typ: "date-time", required: true, desc: "End date", example: "2019-11-10T08:00:00.000Z"},
				{name: "field", typ: "string", desc: "Name of the field on which to compare the dates", def: "timestamp"},
			}, findParams...), h: s.rangeQuery},
		{method: http.MethodGet, path: "/history" + col + "/{id}", op: "history_id", tag: "history", summary: "History of a document", access: authenticated, resp: respHistory,
			desc:  "Points [timestamp, value, quality] of the document's fields, raw or aggregated per step; format=csv streams CSV. Same permissions as reading the collection.",
			query: historyParams, h: s.historyOne},
		{method: http.MethodGet, path: "/history" + col, op: "history", tag: "history", summary: "History of many documents", access: authenticated, resp: respHistory,
			desc:  "As /history/{layer}/{collection}/{id}, for the documents matching query (a selector on the current documents), or every document with history.",
			query: append(slices.Clone(historyParams), findParams[0]), h: s.historyMany},
		{method: http.MethodPost, path: "/history" + col + "/{id}", op: "history_import", tag: "history", summary: "Import history", access: authenticated, resp: respDoc,
			desc: "Imports past points: {field: [[timestamp, value, quality?], …]} (timestamps RFC 3339 or milliseconds; quality default 1). Needs the write grant; identical points already stored change nothing; points older than the out-of-order window are refused and counted.",
			body: &body{schema: objectSchema("Field paths mapped to lists of [timestamp, value, quality?]"), examples: map[string]any{
				"import": map[string]any{"measurements.voltage": []any{[]any{"2024-05-01T10:00:00Z", 230.5, 1}, []any{"2024-05-01T10:00:01Z", 230.7}}}}},
			h: s.historyImport},
		{method: http.MethodGet, path: "/near" + col, op: "near", tag: "collections", summary: "Query documents near a geographic point", access: authenticated, resp: respDocs,
			desc: "Returns the documents whose GeoJSON geometry lies within distance metres of (lat, lon), nearest first.",
			query: append([]param{
				{name: "lat", typ: "number", required: true, desc: "Latitude (-90…90)", example: 39.4629887},
				{name: "lon", typ: "number", required: true, desc: "Longitude (-180…180)", example: -0.4082334},
				{name: "distance", typ: "number", required: true, desc: "Max. distance in meters", example: 100},
			}, findParams...), h: s.near},
		{method: http.MethodPost, path: "/bulk" + col, op: "bulk", tag: "collections", summary: "Insert or update multiple documents", access: authenticated, resp: respBulk,
			desc: "Insert or update multiple documents by _id. With init, the existing documents are deleted first.",
			body: &body{schema: map[string]any{"type": "object", "properties": map[string]any{
				"data": map[string]any{"type": "array", "items": map[string]any{"type": "object"}, "description": "Documents to be inserted or updated"},
				"init": map[string]any{"type": "boolean", "default": false, "description": "If true, the existing documents are deleted before data is inserted"}}},
				examples: map[string]any{"bulk": map[string]any{"data": []any{
					map[string]any{"_id": "5df0a89f8a60e139366143e4", "name": "document_1_mod"},
					map[string]any{"_id": "5dc3c7319862be913bde4577", "name": "document_2_mod"},
					map[string]any{"name": "document_3"}}, "init": false}}},
			h: s.bulk},

		{method: http.MethodGet, path: "/config/{layer}/{item}", op: "config_get", tag: "config", summary: "Get a collection or serie configuration", access: authenticated, resp: respDoc,
			desc: "Needs read permission on the layer.", h: s.getConfig},
		{method: http.MethodPut, path: "/config/{layer}/{item}", op: "config_put", tag: "config", summary: "Update a collection or serie configuration", access: adminOnly, resp: respStatus,
			desc: "Replaces the configuration of a collection of the layer, or adds the collection when the layer has none of that name (admins only: the configuration sets publicFields).",
			body: &body{schema: objectSchema("Collection or serie configuration"), examples: map[string]any{"config": map[string]any{
				"name": "measures", "geo": false, "publish": []any{"all", "custom"}, "http": false,
				"track": map[string]any{"schema": map[string]any{"mRID": " ", "timestamp": " ", "measures": map[string]any{}, "status": " "}}, "activity": true}}},
			h: s.putConfig},

		{method: http.MethodGet, path: "/layers", op: "layers_get", tag: "layers", summary: "List layers", access: loggedIn, resp: respDocs,
			desc: "Admins see every layer; others see the layers they have a grant on.", h: s.listLayers},
		{method: http.MethodPost, path: "/layers", op: "layers_post", tag: "layers", summary: "Create a layer", access: adminOnly, resp: respDoc,
			body: &body{schema: objectSchema("Layer: _id, label, description, owner, category, collections [{name, geo, metrics, publicFields, …}], config"),
				examples: map[string]any{"layer": map[string]any{"_id": "gridflex", "label": "GridFlex", "category": "energy",
					"collections": []any{map[string]any{"name": "generators", "publicFields": []any{"name", "geometry"}}}}}},
			h: s.createLayer},
		{method: http.MethodGet, path: "/layers/{id}", op: "layers_id_get", tag: "layers", summary: "Get a layer", access: loggedIn, resp: respDoc,
			desc: "Callers with only public access get no layer config and, per collection, only name, label, geo and publicFields.", h: s.getLayer},
		{method: http.MethodPatch, path: "/layers/{id}", op: "layers_id_patch", tag: "layers", summary: "Modify a layer", access: adminOnly, resp: respDoc,
			desc: "Replaces the attributes given (label, description, owner, category, collections, config); _id cannot change.",
			body: &body{schema: objectSchema("Layer attributes to replace"), examples: map[string]any{"label": map[string]any{"label": "GridFlex pilot"}}},
			h:    s.patchLayer},
		{method: http.MethodDelete, path: "/layers/{id}", op: "layers_id_delete", tag: "layers", summary: "Delete a layer and all its data", access: adminOnly, resp: respStatus, h: s.deleteLayer},

		{method: http.MethodGet, path: "/users", op: "users_get", tag: "admin", summary: "List users", access: adminOnly, resp: respDocs, h: s.listUsers},
		{method: http.MethodPost, path: "/users", op: "users_post", tag: "admin", summary: "Add a user", access: adminOnly, resp: respDoc,
			desc: "Without a password, one is generated and returned once in data.password.",
			body: &body{schema: objectSchema("username, password, email, admin, grants {layer: none|public|read|write}, profile"),
				examples: map[string]any{"user": map[string]any{"username": "alice", "password": "a long secret", "grants": map[string]any{"demo": "read"}}}},
			h: s.addUser},
		{method: http.MethodGet, path: "/users/{id}", op: "users_id_get", tag: "admin", summary: "Get a user", access: loggedIn, resp: respDoc,
			desc: "Admins, or the user itself.", h: s.getUser},
		{method: http.MethodPatch, path: "/users/{id}", op: "users_id_patch", tag: "admin", summary: "Modify a user or grant permissions", access: loggedIn, resp: respDoc,
			desc: "Admins may change everything; grants are merged (\"none\" removes one). A user may change its own password (giving currentPassword), email and profile. A new password revokes the user's tokens; the last admin cannot be demoted.",
			body: &body{schema: objectSchema("password, currentPassword, email, admin, grants, profile"), examples: map[string]any{"grant": map[string]any{"grants": map[string]any{"demo": "write"}}}},
			h:    s.patchUser},
		{method: http.MethodDelete, path: "/users/{id}", op: "users_id_delete", tag: "admin", summary: "Delete a user", access: adminOnly, resp: respStatus, h: s.deleteUser},
		{method: http.MethodGet, path: "/apps", op: "apps_get", tag: "admin", summary: "List application credentials", access: adminOnly, resp: respDocs, h: s.listApps},
		{method: http.MethodPost, path: "/apps", op: "apps_post", tag: "admin", summary: "Add an application credential", access: adminOnly, resp: respDoc,
			desc: "Returns appId and keyId; keyId is shown only this once.",
			body: &body{schema: objectSchema("name, grants {layer: none|public|read|write}"), examples: map[string]any{"app": map[string]any{"name": "grafana", "grants": map[string]any{"demo": "read"}}}},
			h:    s.addApp},
		{method: http.MethodDelete, path: "/apps/{id}", op: "apps_id_delete", tag: "admin", summary: "Revoke an application credential", access: adminOnly, resp: respStatus, h: s.deleteApp},

		{method: http.MethodPost, path: "/notify/twitter", op: "twitter", tag: "utils", summary: "Post a tweet", access: loggedIn, resp: respStatus,
			desc: "Posts status with the caller's Twitter developer credentials (OAuth 1.0a) to the hub's configured endpoint.",
			body: &body{schema: map[string]any{"$ref": "#/components/schemas/TwitterData"}, examples: map[string]any{"tweet": map[string]any{
				"consumer_key": "twitter_consumer_key", "consumer_secret": "twitter_consumer_secret",
				"access_token_key": "twitter_access_token_key", "access_token_secret": "twitter_access_token_secret", "status": "Hello Twitter"}}},
			h: s.twitter},
		{method: http.MethodPost, path: "/notify/email", op: "mail", tag: "utils", summary: "Send an email", access: loggedIn, resp: respStatus,
			desc: "Sends an email through the hub's SMTP server (admins, or the grant {\"notify\": \"write\"}). The body takes Nodemailer message options: from (notify.smtp.from unless allowFrom lists it), to, cc, bcc (at most maxRecipients together), replyTo, subject, text, html.",
			body: &body{schema: objectSchema("Nodemailer message options"), examples: map[string]any{"mail": map[string]any{
				"from": "sender@server.com", "to": "receiver@sender.com", "subject": "Message title", "text": "Message content"}}},
			h: s.email},
		{method: http.MethodPost, path: "/gateway", op: "gateway", tag: "utils", summary: "Call a platform microservice via NATS", access: loggedIn, resp: respDoc,
			desc: "Sends params as JSON to <domain>.<subject> with the given NATS credentials (\"user:password\", a token, or a creds file's text); method request returns the reply as data.",
			body: &body{schema: map[string]any{"type": "object", "required": []any{"natsCredentials", "subject"}, "properties": map[string]any{
				"natsCredentials": map[string]any{"type": "string"}, "subject": map[string]any{"type": "string"},
				"method": map[string]any{"type": "string", "enum": []any{"request", "publish"}, "default": "request"},
				"params": map[string]any{"type": "object", "default": map[string]any{}}}},
				examples: map[string]any{"metrics": map[string]any{"natsCredentials": "xxxxxxx", "subject": "metrics.get", "method": "request",
					"params": map[string]any{"layer": "xflex", "collection": "xflex.gridflex.generators", "measures": []any{"activePower"}, "period": "1d", "filter": map[string]any{"generator": []any{"TSO"}}}}}},
			h: s.gateway},

		{method: http.MethodPost, path: "/converters/{id}/test", op: "converter_test", tag: "converters", summary: "Test a data-model converter", access: loggedIn, resp: respDoc,
			desc: "Applies the stored transformation id (seed 3.2.3: {_id, template, functions} or {_id, code}) to the sample document of the body and returns the result; a conversion that fails answers 422 with the precise reason (compilation, script error, time or memory budget). Needs the write grant on the converters layer (services.converters.layer), or admin.",
			body: &body{schema: objectSchema("Sample source document"), examples: map[string]any{"sample": map[string]any{"id": "SM001", "timestamp": 1606041000000, "AEexp": 12.5}}},
			h:    s.testConverter},

		{method: http.MethodGet, path: "/resources", op: "resources_get", tag: "resources", summary: "Get files info", access: authenticated, resp: respFileInfos,
			query: []param{fileParams[0], {name: "type", typ: "string", desc: "Media type of the files to be returned", example: "image/png"}}, h: s.listFiles},
		{method: http.MethodPost, path: "/resources", op: "resources_post", tag: "resources", summary: "Upload a file", access: authenticated, resp: respFileCreated, upload: true,
			query: []param{fileParams[0], {name: "type", typ: "string", desc: "Media type of the file", example: "image/png"}},
			body: &body{contentType: "multipart/form-data", schema: map[string]any{"type": "object", "properties": map[string]any{
				"file": map[string]any{"type": "string", "format": "binary"}}}},
			h: s.uploadFile},
		{method: http.MethodGet, path: "/resources/{id}", op: "resources_id_get", tag: "resources", summary: "Get a single file", access: authenticated, resp: respFile, query: fileParams, h: s.getFile},
		{method: http.MethodDelete, path: "/resources/{id}", op: "resources_id_del", tag: "resources", summary: "Delete a single file", access: authenticated, resp: respFileDeleted, query: fileParams, h: s.deleteFile},
		{method: http.MethodGet, path: "/resources/{id}/info", op: "resources_id_info", tag: "resources", summary: "Get a file and its metadata", access: authenticated, resp: respFileInfo, query: fileParams, h: s.fileInfo},
		{method: http.MethodPatch, path: "/resources/{id}/metadata", op: "resources_id_metadata", tag: "resources", summary: "Modify the metadata of a file", access: authenticated, resp: respFileMetadata, query: fileParams,
			body: &body{schema: objectSchema("Metadata fields to be updated (null removes one)"), examples: map[string]any{"metadata": map[string]any{"creationTime": "2019-11-10T07:00:00.000Z"}}},
			h:    s.patchFileMetadata},
	}
}

// reservedLayers are first path segments that name API routes, so no layer
// may be called that.
var reservedLayers = map[string]bool{}

func init() {
	for _, rt := range (&Server{}).routes() {
		seg, _, _ := strings.Cut(strings.TrimPrefix(rt.path, "/"), "/")
		if !strings.HasPrefix(seg, "{") {
			reservedLayers[seg] = true
		}
	}
	reservedLayers["system"] = true
	delete(reservedLayers, ConvertersLayer) // see ConvertersLayer
}

// ReservedLayer reports whether id cannot name a layer because it names an
// API route (health, login, config, range, …) or is the system layer.
func ReservedLayer(id string) bool { return reservedLayers[id] }
