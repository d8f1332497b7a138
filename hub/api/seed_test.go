package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The request examples of seed 000, section 3.3.1 and its OpenAPI annex,
// replayed against the API on a bolt store.

var (
	id1 = "5df0a89f8a60e139366143e4"
	id2 = "5dc3c7319862be913bde4577"
)

func TestSeedHealth(t *testing.T) {
	e := newEnv(t)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		code, res := e.do(m, "/health", nil, noCred)
		if code != 200 {
			t.Fatalf("%s /health: %d", m, code)
		}
		jsonEq(t, m+" /health", res, map[string]any{"status": "success", "data": "v-test"})
	}
}

func TestSeedLogin(t *testing.T) {
	e := newEnv(t)
	res := e.must("POST", "/login", map[string]any{"user": "admin", "password": adminPassword}, noCred)
	d := res["data"].(map[string]any)
	if d["userId"] != "admin" || d["authToken"] == "" || d["tokenExpires"] == nil {
		t.Fatalf("login data %v: want userId, authToken, tokenExpires", d)
	}
	// The annex's example with a regular user, by name and by email.
	if _, err := e.auth.AddUser(t.Context(), newUser("my_user_name", "secure_password", "me@example.com")); err != nil {
		t.Fatal(err)
	}
	e.must("POST", "/login", map[string]any{"user": "my_user_name", "password": "secure_password"}, noCred)
	e.must("POST", "/login", map[string]any{"user": "me@example.com", "password": "secure_password"}, noCred)
	// Form-encoded, as Restivus clients may send it.
	req := e.request("POST", "/login", "user=my_user_name&password=secure_password", noCred)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, body, _ := e.send(req); code != 200 {
		t.Fatalf("form login: %d %s", code, body)
	}
	e.wantError("POST", "/login", map[string]any{"user": "my_user_name", "password": "wrong password"}, noCred, 401, "unauthorized")
}

func TestSeedCollections(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	base := "/demo/meters"

	// POST one document, then several (annex examples "single" and "multiple").
	res := e.must("POST", base, map[string]any{"_id": id1, "name": "document_1"}, a)
	jsonEq(t, "insert one", res, map[string]any{"status": "success", "message": "Item(s) inserted",
		"data": map[string]any{"ok": 1, "insertedIds": []string{id1}, "err": 0, "errorIds": []string{}}})
	res = e.must("POST", base, []any{map[string]any{"_id": id2, "name": "document_2"}, map[string]any{"name": "document_3"}}, a)
	d := res["data"].(map[string]any)
	if d["ok"] != 2.0 || len(d["insertedIds"].([]any)) != 2 || d["err"] != 0.0 {
		t.Fatalf("insert two: %v", res)
	}
	id3 := d["insertedIds"].([]any)[1].(string)

	// Partial success: one duplicate among new documents.
	res = e.must("POST", base, []any{map[string]any{"_id": id1, "name": "dup"}, map[string]any{"_id": "new4", "name": "document_4"}}, a)
	jsonEq(t, "partial insert", res["data"], map[string]any{"ok": 1, "insertedIds": []string{"new4"}, "err": 1, "errorIds": []string{id1}})

	// GET the collection (3.3.1.2.3).
	res = e.must("GET", base, nil, a)
	docs := strip(res["data"]).([]any)
	if len(docs) != 4 {
		t.Fatalf("find: %d documents, want 4: %v", len(docs), docs)
	}
	jsonEq(t, "first document", docs[0], map[string]any{"_id": id2, "name": "document_2"})

	// GET one (3.3.1.2.7).
	res = e.must("GET", base+"/"+id1, nil, a)
	jsonEq(t, "get one", strip(res["data"]), map[string]any{"_id": id1, "name": "document_1"})

	// PATCH one (3.3.1.2.8, annex example).
	res = e.must("PATCH", base+"/"+id1, map[string]any{"name": "document_1_mod"}, a)
	jsonEq(t, "patch one", res, map[string]any{"status": "success", "message": "Item updated"})

	// PATCH several (3.3.1.2.5, annex "multiple").
	res = e.must("PATCH", base, []any{map[string]any{"_id": id1, "name": "document_1_mod"}, map[string]any{"_id": id2, "name": "document_2_mod"}}, a)
	jsonEq(t, "patch many", res, map[string]any{"status": "success", "message": "Item(s) updated",
		"data": map[string]any{"ok": 2, "updatedIds": []string{id1, id2}, "err": 0, "errorIds": []string{}}})
	// annex "single"
	res = e.must("PATCH", base, map[string]any{"_id": id1, "name": "document_1_mod"}, a)
	jsonEq(t, "patch single via collection", res["data"], map[string]any{"ok": 1, "updatedIds": []string{id1}, "err": 0, "errorIds": []string{}})

	// Field of the documents and of one document (annex).
	res = e.must("GET", base+"/field/name", nil, a)
	jsonEq(t, "field of documents", strip(res["data"]), []any{
		map[string]any{"_id": id2, "name": "document_2_mod"}, map[string]any{"_id": id1, "name": "document_1_mod"},
		map[string]any{"_id": id3, "name": "document_3"}, map[string]any{"_id": "new4", "name": "document_4"}})
	res = e.must("GET", base+"/"+id1+"/field/name", nil, a)
	jsonEq(t, "field of one", res["data"], map[string]any{"_id": id1, "name": "document_1_mod"})

	// Query parameters: selector, sort, fields, limit, skip.
	q := url.Values{"query": {`{"name":{"$regex":"^document_[12]"}}`}, "sort": {`{"name":-1}`}, "fields": {"name"}}
	res = e.must("GET", base+"?"+q.Encode(), nil, a)
	jsonEq(t, "selector+sort+fields", res["data"], []any{
		map[string]any{"_id": id2, "name": "document_2_mod"}, map[string]any{"_id": id1, "name": "document_1_mod"}})
	code, body, hdr := e.send(e.request("GET", base+"?limit=2&skip=1", nil, a))
	if code != 200 || !strings.Contains(hdr.Get("Link"), "skip=3") {
		t.Fatalf("page: %d %s, Link %q", code, body, hdr.Get("Link"))
	}

	// DELETE one (3.3.1.2.9).
	res = e.must("DELETE", base+"/"+id3, nil, a)
	jsonEq(t, "delete one", res, map[string]any{"status": "success", "message": "Item deleted"})

	// DELETE with a selector, then all (3.3.1.2.6).
	res = e.must("DELETE", base+"?query="+url.QueryEscape(`{"_id":"new4"}`), nil, a)
	jsonEq(t, "delete matching", res["data"], map[string]any{"ok": 1, "deletedIds": []string{"new4"}, "err": 0, "errorIds": []string{}})
	res = e.must("DELETE", base, nil, a)
	d = res["data"].(map[string]any)
	if res["message"] != "Item(s) deleted" || d["ok"] != 2.0 || len(d["deletedIds"].([]any)) != 2 {
		t.Fatalf("delete all: %v", res)
	}
	if res := e.must("GET", base, nil, a); len(res["data"].([]any)) != 0 {
		t.Fatalf("after delete all: %v", res)
	}
}

func TestSeedBulk(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	e.must("POST", "/demo/meters", []any{map[string]any{"_id": id1, "name": "document_1"}, map[string]any{"_id": id2, "name": "document_2"}}, a)
	// The annex's example.
	res := e.must("POST", "/bulk/demo/meters", map[string]any{"data": []any{
		map[string]any{"_id": id1, "name": "document_1_mod"},
		map[string]any{"_id": id2, "name": "document_2_mod"},
		map[string]any{"name": "document_3"}}, "init": false}, a)
	d := res["data"].(map[string]any)
	if res["message"] != "Item(s) inserted" || d["ok"] != 3.0 || d["err"] != 0.0 || len(d["insertedIds"].([]any)) != 1 {
		t.Fatalf("bulk: %v", res)
	}
	jsonEq(t, "bulk updatedIds", d["updatedIds"], []string{id1, id2})
	// init: true replaces the collection.
	res = e.must("POST", "/bulk/demo/meters", map[string]any{"data": []any{map[string]any{"_id": "only", "v": 1}}, "init": true}, a)
	jsonEq(t, "bulk init insertedIds", res["data"].(map[string]any)["insertedIds"], []string{"only"})
	if got := e.must("GET", "/demo/meters", nil, a)["data"].([]any); len(got) != 1 {
		t.Fatalf("after init: %v", got)
	}
}

func TestSeedConfig(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	cfg := map[string]any{"name": "measures", "geo": false, "publish": []any{"all", "custom"}, "http": false,
		"track": map[string]any{"schema": map[string]any{"mRID": " ", "timestamp": " ", "measures": map[string]any{}, "status": " "}}, "activity": true}
	res := e.must("PUT", "/config/demo/measures", cfg, a)
	jsonEq(t, "put config", res, map[string]any{"status": "success"})
	res = e.must("GET", "/config/demo/measures", nil, a)
	got := res["data"].(map[string]any)
	if got["name"] != "measures" {
		t.Fatalf("config: %v", got)
	}
	// The new collection is usable.
	e.must("POST", "/demo/measures", map[string]any{"_id": "m1"}, a)
	// The seed's free-form attributes survive.
	if _, ok := got["publish"]; !ok || got["track"] == nil || got["activity"] != true {
		t.Fatalf("free-form collection attributes lost: %v", got)
	}
	e.wantError("GET", "/config/demo/nothing", nil, a, 404, "nothing")
}

func TestSeedRangeAndNear(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	e.must("POST", "/demo/series", []any{
		map[string]any{"_id": "a", "timestamp": map[string]any{"$date": "2019-11-10T06:59:59Z"}},
		map[string]any{"_id": "b", "timestamp": map[string]any{"$date": "2019-11-10T07:30:00Z"}},
		map[string]any{"_id": "c", "timestamp": map[string]any{"$date": "2019-11-10T08:00:00Z"}, "other": map[string]any{"$date": "2020-01-01T00:00:00Z"}},
	}, a)
	// The annex's example dates; field defaults to timestamp.
	res := e.must("GET", "/range/demo/series?from=2019-11-10T07:00:00.000Z&to=2019-11-10T08:00:00.000Z", nil, a)
	if ids := idsOf(res["data"]); !slices.Equal(ids, []string{"b", "c"}) {
		t.Fatalf("range: %v, want b c", ids)
	}
	res = e.must("GET", "/range/demo/series?from=2019-12-31&to=2020-01-02&field=other", nil, a)
	if ids := idsOf(res["data"]); !slices.Equal(ids, []string{"c"}) {
		t.Fatalf("range on other: %v, want c", ids)
	}
	e.wantError("GET", "/range/demo/series?from=yesterday&to=2019-11-10", nil, a, 400, "from")
	e.wantError("GET", "/range/demo/series?to=2019-11-10", nil, a, 400, "from is required")

	// The annex's point (Valencia) and distance 100 m.
	e.must("POST", "/demo/sites", []any{
		map[string]any{"_id": "here", "geometry": map[string]any{"type": "Point", "coordinates": []any{-0.4082334, 39.4629887}}},
		map[string]any{"_id": "50m", "geometry": map[string]any{"type": "Point", "coordinates": []any{-0.4082334, 39.4634387}}},
		map[string]any{"_id": "far", "geometry": map[string]any{"type": "Point", "coordinates": []any{-0.3763, 39.4699}}},
	}, a)
	res = e.must("GET", "/near/demo/sites?lat=39.4629887&lon=-0.4082334&distance=100", nil, a)
	if ids := idsOf(res["data"]); !slices.Equal(ids, []string{"here", "50m"}) {
		t.Fatalf("near: %v, want here 50m", ids)
	}
	e.wantError("GET", "/near/demo/sites?lat=91&lon=0&distance=1", nil, a, 400, "lat")
}

func idsOf(v any) []string {
	var out []string
	for _, d := range v.([]any) {
		out = append(out, d.(map[string]any)["_id"].(string))
	}
	return out
}

func uploadReq(t *testing.T, e *env, path, filename, content string, c cred) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte(content))
	mw.Close()
	req := e.request("POST", path, buf.Bytes(), c)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

func TestSeedResources(t *testing.T) {
	e := newEnv(t)
	a := e.admin
	code, body, _ := e.send(uploadReq(t, e, "/resources?fs=fs&type=image/png", "citric.png", "\x89PNG fake image", a))
	if code != 201 {
		t.Fatalf("upload: %d %s", code, body)
	}
	var created map[string]any
	json.Unmarshal(body, &created)
	id, _ := created["_id"].(string)
	if id == "" || created["filename"] != "citric.png" {
		t.Fatalf("upload answer %s: want {_id, filename}", body)
	}
	code, body, _ = e.send(uploadReq(t, e, "/resources?fs=fs", "notes.txt", "hello", a))
	if code != 201 {
		t.Fatalf("upload 2: %d %s", code, body)
	}

	// GET /resources?fs=fs&type=image/png: an array of File objects, no envelope.
	code, body, _ = e.send(e.request("GET", "/resources?fs=fs&type=image/png", nil, a))
	var files []map[string]any
	if code != 200 || json.Unmarshal(body, &files) != nil || len(files) != 1 {
		t.Fatalf("list: %d %s", code, body)
	}
	f := files[0]
	for _, k := range []string{"_id", "length", "chunkSize", "uploadDate", "md5", "filename", "metadata"} {
		if _, ok := f[k]; !ok {
			t.Fatalf("file info lacks %s: %v", k, f)
		}
	}
	if f["metadata"].(map[string]any)["type"] != "image/png" || f["length"] != 15.0 {
		t.Fatalf("file info %v", f)
	}

	// GET the file by filename and by id.
	for _, key := range []string{"filename=citric.png", "id=" + id} {
		k, v, _ := strings.Cut(key, "=")
		code, body, hdr := e.send(e.request("GET", "/resources/"+v+"?fs=fs&key="+k, nil, a))
		if code != 200 || string(body) != "\x89PNG fake image" || hdr.Get("Content-Type") != "image/png" {
			t.Fatalf("get by %s: %d %q %q", k, code, body, hdr.Get("Content-Type"))
		}
	}
	e.wantError("GET", "/resources/citric.png?fs=fs&key=id", nil, a, 404, "citric.png")
	e.wantError("GET", "/resources/citric.png?fs=fs", nil, a, 400, "key")
	e.wantError("GET", "/resources/citric.png?key=filename", nil, a, 400, "fs")

	// info.
	code, body, _ = e.send(e.request("GET", "/resources/citric.png/info?fs=fs&key=filename", nil, a))
	var info map[string]any
	if code != 200 || json.Unmarshal(body, &info) != nil || info["_id"] != id {
		t.Fatalf("info: %d %s", code, body)
	}

	// metadata PATCH (annex example).
	code, body, _ = e.send(e.request("PATCH", "/resources/"+id+"/metadata?fs=fs&key=id", map[string]any{"creationTime": "2019-11-10T07:00:00.000Z"}, a))
	var patched map[string]any
	if code != 200 || json.Unmarshal(body, &patched) != nil {
		t.Fatalf("metadata: %d %s", code, body)
	}
	jsonEq(t, "metadata answer", patched, map[string]any{"key": map[string]any{"_id": id},
		"update": map[string]any{"$set": map[string]any{"metadata.creationTime": "2019-11-10T07:00:00.000Z"}}})
	code, body, _ = e.send(e.request("GET", "/resources/"+id+"/info?fs=fs&key=id", nil, a))
	if code != 200 {
		t.Fatalf("info: %d %s", code, body)
	}
	json.Unmarshal(body, &info)
	if info["metadata"].(map[string]any)["creationTime"] != "2019-11-10T07:00:00.000Z" {
		t.Fatalf("metadata not kept: %s", body)
	}

	// DELETE.
	code, body, _ = e.send(e.request("DELETE", "/resources/citric.png?fs=fs&key=filename", nil, a))
	if code != 200 || string(bytes.TrimSpace(body)) != fmt.Sprintf(`{"_id":%q}`, id) {
		t.Fatalf("delete: %d %s", code, body)
	}
	e.wantError("GET", "/resources/"+id+"?fs=fs&key=id", nil, a, 404, id)
}
