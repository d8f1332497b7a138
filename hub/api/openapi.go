package api

import (
	"net/http"
	"strings"

	"github.com/gridedge/gridedge/hub/auth"
)

// OpenAPI returns the OpenAPI 3 document of the API, built from the same
// route table as the router.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes() {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		method := strings.ToLower(rt.method)
		if method == "" {
			method = "get"
		}
		item[method] = operation(rt)
	}
	for path, item := range forecastPaths() {
		paths[path] = item
	}
	str := map[string]any{"type": "string"}
	ids := map[string]any{"type": "array", "items": str}
	count := map[string]any{"type": "integer", "format": "int32", "minimum": 0}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "GridEdge hub API",
			"description": "REST API v2 of the GridEdge hub, compatible with the X-FLEX Platform API (D6.3, Annex 1). Errors are {status: \"error\", message}.",
			"version":     "v2.0 (" + s.Version + ")",
		},
		"servers": []any{map[string]any{"url": Prefix}},
		"tags": []any{
			map[string]any{"name": "general", "description": "General routes"},
			map[string]any{"name": "collections", "description": "Routes related to Collections"},
			map[string]any{"name": "resources", "description": "Routes related to Resources"},
			map[string]any{"name": "config", "description": "Routes related to collections or series configuration"},
			map[string]any{"name": "utils", "description": "Routes to execute utilities"},
			map[string]any{"name": "layers", "description": "Layer management (GridEdge)"},
			map[string]any{"name": "admin", "description": "Users and application credentials (GridEdge)"},
			map[string]any{"name": "forecast", "description": "Forecasting service (seed 3.2.2; docs/forecast.md)"},
			map[string]any{"name": "converters", "description": "Data-model converters (seed 3.2.3; docs/services.md)"},
			map[string]any{"name": "fleet", "description": "Map push and rollback to edges, signed by the hub's key (GridEdge; docs/api.md)"},
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"userId":    map[string]any{"type": "apiKey", "in": "header", "name": "X-User-ID", "description": "User ID or App ID"},
				"authToken": map[string]any{"type": "apiKey", "in": "header", "name": "X-Auth-Token", "description": "Authentication token or Key ID"},
				"appId":     map[string]any{"type": "apiKey", "in": "query", "name": "appId", "description": "App ID"},
				"keyId":     map[string]any{"type": "apiKey", "in": "query", "name": "keyId", "description": "Key ID"},
			},
			"schemas": map[string]any{
				"Error": map[string]any{"type": "object", "required": []any{"status", "message"}, "properties": map[string]any{
					"status": map[string]any{"type": "string", "example": "error"}, "message": str}},
				"WriteResult": map[string]any{"type": "object", "properties": map[string]any{
					"ok": count, "insertedIds": ids, "updatedIds": ids, "deletedIds": ids, "err": count, "errorIds": ids}},
				"File": map[string]any{"type": "object", "properties": map[string]any{
					"_id": str, "length": map[string]any{"type": "integer", "format": "int64"}, "chunkSize": map[string]any{"type": "integer", "format": "int64"},
					"uploadDate": map[string]any{"type": "string", "format": "date-time"}, "md5": str, "filename": str,
					"contentType": str, "metadata": map[string]any{"type": "object", "properties": map[string]any{"type": str}}}},
				"ModelParams":       forecastSchemas["ModelParams"],
				"ModelDescription":  forecastSchemas["ModelDescription"],
				"InputStage":        forecastSchemas["InputStage"],
				"TrainParams":       forecastSchemas["TrainParams"],
				"ModelConfirmation": forecastSchemas["ModelConfirmation"],
				"ForecastParams":    forecastSchemas["ForecastParams"],
				"ForecastResult":    forecastSchemas["ForecastResult"],
				"ModelList":         forecastSchemas["ModelList"],
				"TwitterData": map[string]any{"type": "object", "required": []any{"consumer_key", "consumer_secret", "access_token_key", "access_token_secret", "status"},
					"properties": map[string]any{"consumer_key": str, "consumer_secret": str, "access_token_key": str, "access_token_secret": str, "status": str}},
			},
			"responses": map[string]any{
				"BadRequest":      errResponse("Bad request: invalid JSON, selector, parameter or document"),
				"Unauthorized":    errResponse("Unauthorized: missing, wrong or expired credentials"),
				"Forbidden":       errResponse("Forbidden: the credentials do not grant this"),
				"NotFound":        errResponse("Not found: the layer, collection, document or file does not exist"),
				"Conflict":        errResponse("Conflict: a document with that _id exists"),
				"TooLarge":        errResponse("Request body too large"),
				"TooManyRequests": errResponse("Rate limit of the credential exceeded; see Retry-After"),
			},
		},
	}
}

func errResponse(desc string) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{
		"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/responses/" + name} }

func operation(rt *route) map[string]any {
	op := map[string]any{"tags": []any{rt.tag}, "summary": rt.summary, "operationId": rt.op}
	if rt.desc != "" {
		op["description"] = rt.desc
	}
	var params []any
	for _, name := range rt.pathParams() {
		params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"},
			"description": pathParamDesc[name]})
	}
	for _, p := range rt.query {
		schema := map[string]any{"type": p.typ}
		if p.typ == "date-time" {
			schema = map[string]any{"type": "string", "format": "date-time"}
		}
		if p.def != nil {
			schema["default"] = p.def
		}
		if p.enum != nil {
			schema["enum"] = p.enum
		}
		q := map[string]any{"name": p.name, "in": "query", "required": p.required, "schema": schema, "description": p.desc}
		if p.example != nil {
			q["example"] = p.example
		}
		params = append(params, q)
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.body != nil {
		ct := rt.body.contentType
		if ct == "" {
			ct = "application/json"
		}
		media := map[string]any{"schema": rt.body.schema}
		if len(rt.body.examples) > 0 {
			ex := map[string]any{}
			for k, v := range rt.body.examples {
				ex[k] = map[string]any{"value": v}
			}
			media["examples"] = ex
		}
		rb := map[string]any{"required": true, "content": map[string]any{ct: media}}
		if rt.body.desc != "" {
			rb["description"] = rt.body.desc
		}
		op["requestBody"] = rb
	}
	okStatus := "200"
	if rt.resp == respFileCreated {
		okStatus = "201"
	}
	responses := map[string]any{okStatus: successResponse(rt.resp)}
	if rt.body != nil || len(rt.query) > 0 || len(rt.pathParams()) > 0 {
		responses["400"] = ref("BadRequest")
	}
	if rt.body != nil {
		responses["413"] = ref("TooLarge")
	}
	if rt.access != open {
		responses["401"] = ref("Unauthorized")
		responses["403"] = ref("Forbidden")
		op["security"] = []any{
			map[string]any{"userId": []any{}, "authToken": []any{}},
			map[string]any{"appId": []any{}, "keyId": []any{}},
		}
	} else {
		op["security"] = []any{}
	}
	if len(rt.pathParams()) > 0 {
		responses["404"] = ref("NotFound")
	}
	if rt.resp == respInserted || rt.resp == respBulk || rt.method == http.MethodPost && rt.tag != "utils" && rt.tag != "general" {
		responses["409"] = ref("Conflict")
	}
	responses["429"] = ref("TooManyRequests")
	op["responses"] = responses
	return op
}

var pathParamDesc = map[string]string{
	"layer": "Layer ID", "collection": "Collection ID", "id": "Document, layer, user or app ID (for resources: ID or filename of the file)",
	"field": "Field to be returned (dotted path)", "item": "Collection or serie name", "edge": "Edge ID",
}

func successResponse(k resp) map[string]any {
	env := func(data map[string]any, withMessage bool) map[string]any {
		props := map[string]any{"status": map[string]any{"type": "string", "example": "success"}}
		if withMessage {
			props["message"] = map[string]any{"type": "string"}
		}
		if data != nil {
			props["data"] = data
		}
		return map[string]any{"type": "object", "properties": props}
	}
	obj := map[string]any{"type": "object"}
	write := map[string]any{"$ref": "#/components/schemas/WriteResult"}
	file := map[string]any{"$ref": "#/components/schemas/File"}
	var schema map[string]any
	ct := "application/json"
	switch k {
	case respStatus:
		schema = env(nil, true)
	case respDoc:
		schema = env(obj, true)
	case respDocs:
		schema = env(map[string]any{"type": "array", "items": obj}, false)
	case respString:
		schema = env(map[string]any{"type": "string", "example": "v2.0"}, false)
	case respInserted, respUpdated, respDeleted, respBulk:
		schema = env(write, true)
	case respSession:
		schema = env(map[string]any{"type": "object", "properties": map[string]any{
			"userId": map[string]any{"type": "string"}, "authToken": map[string]any{"type": "string"},
			"tokenExpires": map[string]any{"type": "string", "format": "date-time"}}}, false)
	case respFile:
		ct = "application/octet-stream"
		schema = map[string]any{"type": "string", "format": "binary", "description": "The file, with its media type"}
	case respFileInfo:
		schema = file
	case respFileInfos:
		schema = map[string]any{"type": "array", "items": file}
	case respFileCreated:
		schema = map[string]any{"type": "object", "properties": map[string]any{"_id": map[string]any{"type": "string"}, "filename": map[string]any{"type": "string"}}}
	case respFileDeleted:
		schema = map[string]any{"type": "object", "properties": map[string]any{"_id": map[string]any{"type": "string"}}}
	case respFileMetadata:
		schema = map[string]any{"type": "object", "properties": map[string]any{"key": obj, "update": obj}}
	case respOpenAPI:
		schema = obj
	case respHistory:
		schema = env(map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
			"_id": map[string]any{"type": "string"}, "field": map[string]any{"type": "string"},
			"points": map[string]any{"type": "array", "description": "[timestamp, value, quality]", "items": map[string]any{"type": "array"}}}}}, false)
		return map[string]any{"description": "Success", "content": map[string]any{ct: map[string]any{"schema": schema},
			"text/csv": map[string]any{"schema": map[string]any{"type": "string", "description": "with format=csv: timestamp,_id,field,value,quality"}}}}
	}
	return map[string]any{"description": "Success", "content": map[string]any{ct: map[string]any{"schema": schema}}}
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	writeJSON(w, http.StatusOK, s.OpenAPI())
	return nil
}

// MountedPaths are documented paths served by a handler the hub mounts in
// front of this API's router (hub/forecast, mounted by hub/daemon), not by
// routes().
var MountedPaths = map[string]bool{
	"/forecast/model":               true,
	"/forecast/model/{id}":          true,
	"/forecast/model/{id}/train":    true,
	"/forecast/model/{id}/forecast": true,
}

// "forecast" is the first path segment of the forecast service, so no layer
// may be called that.
func init() { reservedLayers["forecast"] = true }

// forecastSchemas are the seed's JSON objects of the forecast service
// (3.2.2.4).
var forecastSchemas = func() map[string]any {
	str := map[string]any{"type": "string"}
	obj := func(desc string, props map[string]any, required ...string) map[string]any {
		o := map[string]any{"type": "object", "description": desc, "properties": props}
		if len(required) > 0 {
			req := []any{}
			for _, r := range required {
				req = append(req, r)
			}
			o["required"] = req
		}
		return o
	}
	stages := map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/InputStage"}}
	dt := map[string]any{"type": "string", "format": "date-time"}
	num := map[string]any{"type": "number"}
	return map[string]any{
		"ModelParams": obj("MODEL_PARAMS", map[string]any{"name": str, "input": stages,
			"options": map[string]any{"type": "object", "description": "Prophet settings (GridEdge): growth, seasonalityMode, yearly/weekly/dailySeasonality, seasonalities, holidays, changepointPriorScale, intervalWidth, uncertaintySamples, seed…"}}, "name"),
		"ModelDescription": obj("MODEL_DESCRIPTION", map[string]any{"id": str, "config": map[string]any{"$ref": "#/components/schemas/ModelParams"},
			"regressors":        map[string]any{"type": "array", "items": str},
			"status":            map[string]any{"type": "string", "enum": []any{"untrained", "training", "trained", "error"}},
			"lastDataTimestamp": dt, "error": str, "progress": str, "rows": map[string]any{"type": "integer"}, "trainedAt": dt}, "id", "config", "regressors", "status"),
		"InputStage": obj("INPUT_STAGE: exactly one of history, mongo, http; rows give ds, y and regressor columns, INNER-JOINed on ds with the first stage", map[string]any{
			"history": obj("The hub's history of one document", map[string]any{"layer": str, "collection": str, "id": str,
				"columns": map[string]any{"type": "object", "additionalProperties": str, "description": "column name (y or a regressor) → field path"},
				"from":    dt, "to": dt, "step": str, "agg": map[string]any{"type": "string", "enum": []any{"avg", "min", "max", "sum", "count", "first", "last"}}}),
			"mongo": obj("Aggregate pipeline (mongo store backend only)", map[string]any{"uri": str, "database": str, "collection": str, "aggregate": str}),
			"http": obj("HTTP request and expression mapping", map[string]any{
				"request": obj("", map[string]any{"method": str, "url": str, "params": map[string]any{"type": "object"}, "headers": map[string]any{"type": "object"},
					"json": map[string]any{}, "data": str, "files": map[string]any{"type": "object"}}),
				"mapping": obj("rows: expression selecting the array of rows; columns: name → expression per row (the row's fields, or row)", map[string]any{
					"rows": str, "columns": map[string]any{"type": "object", "additionalProperties": str}})}),
		}),
		"ModelList": obj("A page of models, sorted by name then id; a Link rel=\"next\" header names the next page, X-Total-Count the total", map[string]any{
			"models": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/ModelDescription"}},
			"total":  map[string]any{"type": "integer"}, "skip": map[string]any{"type": "integer"}, "limit": map[string]any{"type": "integer"}}, "models", "total", "skip", "limit"),
		"ModelConfirmation": obj("MODEL_CONFIRMATION", map[string]any{"id": str, "status": map[string]any{"type": "string", "enum": []any{"ok", "error"}}, "message": str}),
		"TrainParams":       obj("TRAIN_PARAMS", map[string]any{"input": stages}),
		"ForecastParams": obj("FORECAST_PARAMS", map[string]any{"periods": map[string]any{"type": "integer", "minimum": 1},
			"freq": map[string]any{"type": "string", "description": "pandas alias: 15min, H, D, W, M, MS…", "example": "H"}, "input": stages}, "periods"),
		"ForecastResult": map[string]any{"type": "array", "description": "FORECAST_RESULT", "items": obj("", map[string]any{
			"ds": dt, "yhat": num, "yhat_lower": num, "yhat_upper": num})},
	}
}()

// forecastPaths documents the forecast service's REST interface.
func forecastPaths() map[string]any {
	sec := []any{map[string]any{"userId": []any{}, "authToken": []any{}}, map[string]any{"appId": []any{}, "keyId": []any{}}}
	idParam := []any{map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}, "description": "Model id"}}
	jsonOf := func(schema string) map[string]any {
		return map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + schema}}}
	}
	op := func(id, summary, desc, reqSchema, respSchema string, withID bool) map[string]any {
		o := map[string]any{"tags": []any{"forecast"}, "operationId": id, "summary": summary, "description": desc, "security": sec,
			"responses": map[string]any{
				"200": map[string]any{"description": respSchema, "content": jsonOf(respSchema)},
				"400": ref("BadRequest"), "401": ref("Unauthorized"), "403": ref("Forbidden"), "404": ref("NotFound"),
				"409": errResponse("Conflict: the model is training, or not trained"),
			}}
		if reqSchema != "" {
			o["requestBody"] = map[string]any{"required": reqSchema != "TrainParams", "content": jsonOf(reqSchema)}
		}
		if withID {
			o["parameters"] = idParam
		}
		return o
	}
	const grantW, grantR = "Needs the grant {\"forecast\": \"write\"} (or admin).", "Needs the grant {\"forecast\": \"read\"} (or admin)."
	return map[string]any{
		"/forecast/model": map[string]any{"post": op("forecast_model_post", "Create an untrained model", grantW, "ModelParams", "ModelDescription", false),
			"get": func() map[string]any {
				o := op("forecast_model_list", "List the models with their status", grantR+" Also on NATS: <domain>.forecast.model.list with {status, skip, limit}.", "", "ModelList", false)
				q := func(name, typ, desc string) map[string]any {
					return map[string]any{"name": name, "in": "query", "schema": map[string]any{"type": typ}, "description": desc}
				}
				o["parameters"] = []any{
					map[string]any{"name": "status", "in": "query", "schema": map[string]any{"type": "string", "enum": []any{"untrained", "training", "trained", "error"}}, "description": "Only the models of this status"},
					q("skip", "integer", "Models to skip (pagination offset)"),
					q("limit", "integer", "Page size (default 100, at most 1000)"),
				}
				return o
			}()},
		"/forecast/model/{id}": map[string]any{
			"get":    op("forecast_model_get", "Get a model's description and status", grantR, "", "ModelDescription", true),
			"delete": op("forecast_model_delete", "Delete a model", grantW, "", "ModelConfirmation", true),
		},
		"/forecast/model/{id}/train": map[string]any{"post": op("forecast_model_train", "Train a model (asynchronous)",
			grantW+" Queues the training on the worker pool and answers with status training; refused (409) while training. TRAIN_PARAMS.input replaces the model's input stages.", "TrainParams", "ModelDescription", true)},
		"/forecast/model/{id}/forecast": map[string]any{"post": op("forecast_model_forecast", "Forecast periods steps after lastDataTimestamp",
			grantW+" Refused (409) unless trained; models with regressors need input stages giving their values at the forecast timestamps.", "ForecastParams", "ForecastResult", true)},
	}
}
