package mongo

import (
	"context"
	"strconv"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// TestServerFeatures records which MongoDB features the test server offers
// beyond what the backend needs; the backend does not depend on any of
// them (Near is computed client-side, ApplyBatch needs no transactions).
// It logs its findings (go test -v -run ServerFeatures), for every wire
// server, and never fails.
func TestServerFeatures(t *testing.T) {
	for _, ws := range wireServers() {
		t.Run(ws.kind, func(t *testing.T) {
			s := openStoreAt(t, ws.uri(t))
			kind := ws.kind
			if kind == "default" {
				_, kind = server(t)
			}
			probeFeatures(t, s, kind)
		})
	}
}

func probeFeatures(t *testing.T, s *Store, kind string) {
	ctx := context.Background()
	c := s.db.Collection("probe")
	if _, err := c.InsertMany(ctx, []any{
		bson.M{"_id": "p", "geometry": bson.M{"type": "Point", "coordinates": bson.A{-3.7038, 40.4168}}},
		bson.M{"_id": "q", "geometry": bson.M{"type": "Point", "coordinates": bson.A{2.1734, 41.3851}}},
	}); err != nil {
		t.Fatal(err)
	}
	probe := func(name string, fn func() error) {
		if err := fn(); err != nil {
			t.Logf("%s: %s: NOT SUPPORTED: %v", kind, name, err)
		} else {
			t.Logf("%s: %s: ok", kind, name)
		}
	}
	count := func(f bson.M, want int) func() error {
		return func() error {
			cur, err := c.Find(ctx, f)
			if err != nil {
				return err
			}
			var out []bson.M
			if err := cur.All(ctx, &out); err != nil {
				return err
			}
			if len(out) != want {
				return errCount{len(out), want}
			}
			return nil
		}
	}
	probe("2dsphere index", func() error {
		_, err := c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "geometry", Value: "2dsphere"}}})
		return err
	})
	probe("$nearSphere with $maxDistance", count(bson.M{"geometry": bson.M{"$nearSphere": bson.M{
		"$geometry": bson.M{"type": "Point", "coordinates": bson.A{-3.70, 40.41}}, "$maxDistance": 5000}}}, 1))
	probe("$geoWithin $centerSphere", count(bson.M{"geometry": bson.M{"$geoWithin": bson.M{
		"$centerSphere": bson.A{bson.A{-3.70, 40.41}, 5000.0 / 6378100}}}}, 1))
	probe("$geoWithin $geometry Polygon", count(bson.M{"geometry": bson.M{"$geoWithin": bson.M{"$geometry": bson.M{
		"type": "Polygon", "coordinates": bson.A{bson.A{bson.A{-4.0, 40.0}, bson.A{-3.0, 40.0}, bson.A{-3.0, 41.0}, bson.A{-4.0, 41.0}, bson.A{-4.0, 40.0}}}}}}}, 1))
	probe("$all with $elemMatch", func() error {
		if _, err := c.InsertOne(ctx, bson.M{"_id": "e", "items": bson.A{bson.M{"q": 1}}}); err != nil {
			return err
		}
		return count(bson.M{"items": bson.M{"$all": bson.A{bson.M{"$elemMatch": bson.M{"q": bson.M{"$lt": 2}}}}}}, 1)()
	})
	probe("multi-document transaction", func() error {
		sess, err := s.client.StartSession()
		if err != nil {
			return err
		}
		defer sess.EndSession(ctx)
		_, err = sess.WithTransaction(ctx, func(sc mongo.SessionContext) (any, error) {
			_, err := c.InsertOne(sc, bson.M{"_id": "tx"})
			return nil, err
		})
		return err
	})
	probe("collation (case-insensitive)", func() error {
		cur, err := c.Find(ctx, bson.M{"_id": "P"}, options.Find().SetCollation(&options.Collation{Locale: "en", Strength: 2}))
		if err != nil {
			return err
		}
		var out []bson.M
		if err := cur.All(ctx, &out); err != nil {
			return err
		}
		if len(out) != 1 {
			return errCount{len(out), 1}
		}
		return nil
	})
	probe("change streams", func() error {
		cs, err := c.Watch(ctx, mongo.Pipeline{})
		if err != nil {
			return err
		}
		return cs.Close(ctx)
	})
}

type errCount struct{ got, want int }

func (e errCount) Error() string {
	return "matched " + strconv.Itoa(e.got) + " documents, want " + strconv.Itoa(e.want)
}
