// Framings: raw DDP (one message per WebSocket text frame) and SockJS over
// WebSocket (o, h, a[...], c[...]).

package ddp

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// transport carries DDP messages over one WebSocket.
type transport interface {
	// read returns the messages of the next frame (SockJS frames may carry
	// several, or none).
	read() ([][]byte, error)
	// write sends a batch of messages.
	write(msgs [][]byte) error
	// heartbeat sends the framing's keep-alive, if it has one.
	heartbeat() error
	// close sends the framing's close frame, if any, and closes the
	// socket; only the connection's writer calls it.
	close()
	// kill closes the socket at once; safe from any goroutine.
	kill()
}

// rawTransport is DDP over a plain WebSocket (/websocket).
type rawTransport struct {
	ws           *websocket.Conn
	bc           *batchConn // nil when the upgrader did not hijack through it
	writeTimeout time.Duration
	// direct: the client did not offer compression, so data frames are
	// built straight into the batch (batchConn.writeFrames).
	direct bool
}

func (t *rawTransport) read() ([][]byte, error) {
	typ, data, err := t.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
		return nil, nil
	}
	return [][]byte{data}, nil
}

func (t *rawTransport) write(msgs [][]byte) error {
	if t.direct && t.bc != nil {
		return t.bc.writeFrames(msgs, time.Now().Add(t.writeTimeout))
	}
	if err := t.ws.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil {
		return err
	}
	if t.bc != nil && len(msgs) > 1 {
		t.bc.begin()
	}
	for _, m := range msgs {
		if err := t.ws.WriteMessage(websocket.TextMessage, m); err != nil {
			if t.bc != nil {
				_ = t.bc.end()
			}
			return err
		}
	}
	if t.bc != nil {
		return t.bc.end()
	}
	return nil
}

func (t *rawTransport) heartbeat() error { return nil }

func (t *rawTransport) kill() { _ = t.ws.Close() }

func (t *rawTransport) close() {
	_ = t.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	_ = t.ws.Close()
}

// sockjsTransport is DDP in SockJS framing over a WebSocket
// (/sockjs/<server>/<session>/websocket): the server opens with "o", sends
// messages as a["…","…"] (one frame per batch), keeps the line alive with
// "h" and closes with c[code,"reason"]; the client sends a JSON array of
// message strings (or one string).
type sockjsTransport struct {
	rawTransport
}

func (t *sockjsTransport) open() error {
	if err := t.ws.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil {
		return err
	}
	return t.ws.WriteMessage(websocket.TextMessage, []byte("o"))
}

// errSockJSFrame is a client frame that is not SockJS.
var errSockJSFrame = errors.New("sockjs: a frame must be a JSON array of strings")

func (t *sockjsTransport) read() ([][]byte, error) {
	_, data, err := t.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, nil
	}
	var arr []string
	if err := json.Unmarshal(data, &arr); err != nil {
		var one string
		if err := json.Unmarshal(data, &one); err != nil {
			// SockJS closes the session on a broken frame.
			return nil, errSockJSFrame
		}
		arr = []string{one}
	}
	out := make([][]byte, len(arr))
	for i, s := range arr {
		out[i] = []byte(s)
	}
	return out, nil
}

func (t *sockjsTransport) write(msgs [][]byte) error {
	frame := sockjsFrame(msgs)
	if err := t.ws.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil {
		return err
	}
	return t.ws.WriteMessage(websocket.TextMessage, frame)
}

func (t *sockjsTransport) heartbeat() error {
	if err := t.ws.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil {
		return err
	}
	return t.ws.WriteMessage(websocket.TextMessage, []byte("h"))
}

func (t *sockjsTransport) close() {
	_ = t.ws.SetWriteDeadline(time.Now().Add(time.Second))
	_ = t.ws.WriteMessage(websocket.TextMessage, []byte(`c[3000,"Go away!"]`))
	t.rawTransport.close()
}
