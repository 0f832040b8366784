// A fake packer-plugin-sdk style plugin for kiln-plugin's tests: it answers `describe`, prints
// the four-field handshake for `start builder|datasource NAME`, and serves over hashicorp/yamux
// with a stream broker and net/rpc in ugorji's msgpack, as SDK plugins do. Builder names pick
// behaviours the tests need: "ok", "hang" (ConfigSpec never answers), "crash" (Prepare exits),
// "goaway" (Prepare refuses new streams). With `--protobuf` it sends specs as the SDK's protobuf
// messages and a data source's value as cty's msgpack of a dynamic value.
//
// Built by the tests in GOPATH mode against Debian's golang-github-* packages. cty there no
// longer speaks gob, so the spec is written with local types that produce the same gob stream
// (gob names types by their registered names and fields, not by Go package).
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io/ioutil"
	"log"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/ugorji/go/codec"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

const cookie = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

var useProto bool

// ---- the stream broker ----

type broker struct {
	sess    *yamux.Session
	mu      sync.Mutex
	next    uint32
	pending map[uint32]chan net.Conn
}

func (b *broker) slot(id uint32) chan net.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch, ok := b.pending[id]
	if !ok {
		ch = make(chan net.Conn, 1)
		b.pending[id] = ch
	}
	return ch
}

func (b *broker) run() {
	for {
		s, err := b.sess.AcceptStream()
		if err != nil {
			return
		}
		var id uint32
		if err := binary.Read(s, binary.LittleEndian, &id); err != nil {
			s.Close()
			continue
		}
		b.slot(id) <- s
	}
}

func (b *broker) accept(id uint32) (net.Conn, error) {
	select {
	case c := <-b.slot(id):
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return c, binary.Write(c, binary.LittleEndian, id)
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("timeout accepting stream %d", id)
	}
}

func (b *broker) dial(id uint32) (net.Conn, error) {
	s, err := b.sess.OpenStream()
	if err != nil {
		return nil, err
	}
	if err := binary.Write(s, binary.LittleEndian, id); err != nil {
		return nil, err
	}
	var ack uint32
	if err := binary.Read(s, binary.LittleEndian, &ack); err != nil {
		return nil, err
	}
	if ack != id {
		return nil, fmt.Errorf("bad ack %d for %d", ack, id)
	}
	return s, nil
}

func (b *broker) nextID() uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	return b.next
}

func handle() *codec.MsgpackHandle { return &codec.MsgpackHandle{WriteExt: true} }

func serve(conn net.Conn, name string, rcvr interface{}) {
	s := rpc.NewServer()
	s.RegisterName(name, rcvr)
	s.ServeCodec(codec.GoRpc.ServerCodec(conn, handle()))
}

func client(b *broker, id uint32) (*rpc.Client, error) {
	c, err := b.dial(id)
	if err != nil {
		return nil, err
	}
	return rpc.NewClientWithCodec(codec.GoRpc.ClientCodec(c, handle())), nil
}

// ---- the spec, in the gob shapes of hcldec and (old) cty ----

type primitiveType struct{ Kind byte }
type typeList struct{ ElementTypeT Type }
type typeMap struct{ ElementTypeT Type }
type typeObject struct{ AttrTypes map[string]Type }

// Type stands for cty.Type: its GobEncode is a gob stream of gobType{Version, Impl}.
type Type struct{ impl interface{} }
type gobType struct {
	Version int
	Impl    interface{}
}

func (t Type) GobEncode() ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(gobType{Version: 0, Impl: t.impl})
	return buf.Bytes(), err
}

func (t *Type) GobDecode([]byte) error { return errors.New("not needed") }

type AttrSpec struct {
	Name     string
	Type     Type
	Required bool
}
type BlockSpec struct {
	TypeName string
	Nested   interface{}
	Required bool
}
type BlockListSpec struct {
	TypeName string
	Nested   interface{}
	MinItems int
	MaxItems int
}
type ObjectSpec map[string]interface{}

func init() {
	gob.RegisterName("*hcldec.AttrSpec", &AttrSpec{})
	gob.RegisterName("*hcldec.BlockSpec", &BlockSpec{})
	gob.RegisterName("*hcldec.BlockListSpec", &BlockListSpec{})
	gob.RegisterName("hcldec.ObjectSpec", ObjectSpec{})
	gob.RegisterName("github.com/zclconf/go-cty/cty.primitiveType", primitiveType{})
	gob.RegisterName("github.com/zclconf/go-cty/cty.typeList", typeList{})
	gob.RegisterName("github.com/zclconf/go-cty/cty.typeMap", typeMap{})
	gob.RegisterName("github.com/zclconf/go-cty/cty.typeObject", typeObject{})
}

var (
	tString = Type{primitiveType{'S'}}
	tNumber = Type{primitiveType{'N'}}
	tBool   = Type{primitiveType{'B'}}
)

func specObject() ObjectSpec {
	return ObjectSpec{
		"greeting": &AttrSpec{Name: "greeting", Type: tString, Required: true},
		"count":    &AttrSpec{Name: "count", Type: tNumber},
		"enabled":  &AttrSpec{Name: "enabled", Type: tBool},
		"tags":     &AttrSpec{Name: "tags", Type: Type{typeMap{tString}}},
		"ports":    &AttrSpec{Name: "ports", Type: Type{typeList{tNumber}}},
		"owner": &AttrSpec{Name: "owner", Type: Type{typeObject{map[string]Type{
			"name": tString, "uid": tNumber,
		}}}},
		"disk": &BlockSpec{TypeName: "disk", Nested: ObjectSpec{
			"size": &AttrSpec{Name: "size", Type: tNumber, Required: true},
		}},
		"mount": &BlockListSpec{TypeName: "mount", MinItems: 0, MaxItems: 3, Nested: ObjectSpec{
			"path": &AttrSpec{Name: "path", Type: tString},
		}},
	}
}

func spec() ([]byte, error) { return encodeSpec(specObject()) }

func encodeSpec(s ObjectSpec) ([]byte, error) {
	if useProto {
		// The SDK's protobuf form has no object types.
		delete(s, "owner")
		return pbSpec(nil, s), nil
	}
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(s)
	return buf.Bytes(), err
}

// ---- the SDK's protobuf spec (hcl_spec.proto), written by hand ----

func pbVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func pbBytes(b []byte, field int, data []byte) []byte {
	b = pbVarint(b, uint64(field<<3|2))
	b = pbVarint(b, uint64(len(data)))
	return append(b, data...)
}

func pbBool(b []byte, field int, v bool) []byte {
	if !v {
		return b
	}
	return pbVarint(pbVarint(b, uint64(field<<3)), 1)
}

func pbType(t Type) []byte {
	switch i := t.impl.(type) {
	case primitiveType:
		name := map[byte]string{'S': "cty.String", 'N': "cty.Number", 'B': "cty.Bool"}[i.Kind]
		return pbBytes(nil, 1, pbBytes(nil, 1, []byte(name)))
	case typeList:
		return pbBytes(nil, 2, pbBytes(nil, 1, pbType(i.ElementTypeT)))
	case typeMap:
		return pbBytes(nil, 3, pbBytes(nil, 1, pbType(i.ElementTypeT)))
	}
	panic("type without a protobuf form")
}

// pbSpec appends the Spec message for s.
func pbSpec(b []byte, s interface{}) []byte {
	switch x := s.(type) {
	case ObjectSpec:
		var obj []byte
		for k, v := range x {
			entry := pbBytes(nil, 1, []byte(k))
			entry = pbBytes(entry, 2, pbSpec(nil, v))
			obj = pbBytes(obj, 1, entry)
		}
		return pbBytes(b, 1, obj)
	case *AttrSpec:
		a := pbBytes(nil, 1, []byte(x.Name))
		a = pbBytes(a, 2, pbType(x.Type))
		a = pbBool(a, 3, x.Required)
		return pbBytes(b, 2, a)
	case *BlockSpec:
		bl := pbBytes(nil, 1, []byte(x.TypeName))
		bl = pbBool(bl, 2, x.Required)
		bl = pbBytes(bl, 3, pbSpec(nil, x.Nested))
		return pbBytes(b, 3, bl)
	case *BlockListSpec:
		bl := pbBytes(nil, 1, []byte(x.TypeName))
		bl = pbBytes(bl, 2, pbSpec(nil, x.Nested))
		return pbBytes(b, 4, bl)
	}
	panic("spec without a protobuf form")
}

// ---- the builder ----

type BasicError struct{ Message string }

type Builder struct {
	name string
	b    *broker
}

type ConfigSpecResponse struct{ ConfigSpec []byte }

func (x *Builder) ConfigSpec(_ interface{}, reply *ConfigSpecResponse) error {
	if x.name == "hang" {
		log.Printf("ConfigSpec: hanging on purpose")
		select {}
	}
	b, err := spec()
	reply.ConfigSpec = b
	return err
}

type PrepareArgs struct{ Configs []interface{} }
type PrepareResponse struct {
	GeneratedVars []string
	Warnings      []string
	Error         *BasicError
}

// plain turns what ugorji decoded into something encoding/json takes.
func plain(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, v := range t {
			m[fmt.Sprint(k)] = plain(v)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = plain(t[i])
		}
		return t
	default:
		return v
	}
}

// Prepare reports in Warnings what each config looked like on arrival.
func (x *Builder) Prepare(args *PrepareArgs, reply *PrepareResponse) error {
	switch x.name {
	case "crash":
		log.Printf("panic: the fake plugin crashes on purpose")
		os.Exit(2)
	case "goaway":
		x.b.sess.GoAway()
	}
	for _, c := range args.Configs {
		if b, ok := c.([]byte); ok {
			v, err := ctyjson.Unmarshal(b, cty.DynamicPseudoType)
			if err != nil {
				reply.Error = &BasicError{Message: "bad cty config: " + err.Error()}
				return nil
			}
			js, _ := ctyjson.Marshal(v, v.Type())
			reply.Warnings = append(reply.Warnings, fmt.Sprintf("cty %s %s", v.Type().FriendlyName(), js))
			continue
		}
		js, err := json.Marshal(plain(c))
		if err != nil {
			return err
		}
		reply.Warnings = append(reply.Warnings, "json "+string(js))
		if m, ok := plain(c).(map[string]interface{}); ok {
			if _, bad := m["bogus"]; bad {
				reply.Error = &BasicError{Message: "unknown configuration key: \"bogus\""}
			}
		}
	}
	if d, err := x.b.sess.Ping(); err == nil {
		log.Printf("ping answered in %s", d)
		reply.GeneratedVars = []string{"PingAnswered"}
	}
	return nil
}

type UiMachineArgs struct {
	Category string
	Args     []string
}

type Artifact struct{}

func (Artifact) BuilderId(_ interface{}, r *string) error { *r = "kiln.fake"; return nil }
func (Artifact) Id(_ interface{}, r *string) error        { *r = "fake-id"; return nil }
func (Artifact) String(_ interface{}, r *string) error    { *r = "a fake artifact"; return nil }
func (Artifact) Files(_ interface{}, r *[]string) error   { *r = []string{"/a", "/b"}; return nil }
func (Artifact) State(name string, r *interface{}) error {
	*r = map[string]interface{}{"asked": name, "n": 3}
	return nil
}
func (Artifact) Destroy(_ interface{}, r *error) error { *r = nil; return nil }

func (x *Builder) Run(streamID uint32, reply *uint32) error {
	c, err := client(x.b, streamID)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Call("Ui.Say", "hello from the fake builder", new(interface{})); err != nil {
		return err
	}
	if err := c.Call("Ui.Machine", &UiMachineArgs{Category: "artifact", Args: []string{"0", "id", "fake-id"}}, new(interface{})); err != nil {
		return err
	}
	// Many calls at once, answered in any order.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- c.Call("Ui.Message", fmt.Sprintf("concurrent %d", i), new(interface{}))
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		if e != nil {
			return e
		}
	}
	id := x.b.nextID()
	go func() {
		conn, err := x.b.accept(id)
		if err == nil {
			serve(conn, "Artifact", Artifact{})
		}
	}()
	*reply = id
	return nil
}

func (x *Builder) Cancel(_ interface{}, _ *interface{}) error { return nil }

// ---- the data source ----

type Datasource struct{}

type ConfigureResponse struct{ Error *BasicError }
type OutputSpecResponse struct{ OutputSpec []byte }
type ExecuteResponse struct {
	Value []byte
	Error *BasicError
}

func (Datasource) Configure(args *PrepareArgs, reply *ConfigureResponse) error { return nil }
func (Datasource) ConfigSpec(_ interface{}, reply *ConfigSpecResponse) error {
	b, err := spec()
	reply.ConfigSpec = b
	return err
}
func (Datasource) OutputSpec(_ interface{}, reply *OutputSpecResponse) error {
	b, err := encodeSpec(ObjectSpec{"id": &AttrSpec{Name: "id", Type: tString}})
	reply.OutputSpec = b
	return err
}

// Execute answers, under --protobuf, cty's msgpack of a dynamic value: [type JSON, value].
func (Datasource) Execute(_ interface{}, reply *ExecuteResponse) error {
	if !useProto {
		reply.Value = []byte("opaque value bytes")
		return nil
	}
	ty := cty.Object(map[string]cty.Type{"id": cty.String, "count": cty.Number, "tags": cty.List(cty.String)})
	tyJSON, err := ctyjson.MarshalType(ty)
	if err != nil {
		return err
	}
	value := map[string]interface{}{"id": "ds-42", "count": 3, "tags": []string{"a", "b"}}
	var buf bytes.Buffer
	err = codec.NewEncoder(&buf, handle()).Encode([]interface{}{tyJSON, value})
	reply.Value = buf.Bytes()
	return err
}

// ---- main ----

func main() {
	log.SetOutput(os.Stderr)
	// Tests count how often kiln runs the plugin (and with which arguments).
	if p := os.Getenv("KILN_FAKE_PLUGIN_LOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, os.Args[1:])
			f.Close()
		}
	}
	var args []string
	for _, a := range os.Args {
		if a == "--protobuf" {
			useProto = true
			continue
		}
		args = append(args, a)
	}
	os.Args = args
	if len(os.Args) == 2 && os.Args[1] == "describe" {
		json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
			"version": "0.0.1", "sdk_version": "0.0.0-fake", "api_version": "x5.0",
			"builders": []string{"ok", "hang", "crash", "goaway"}, "post_processors": []string{},
			"provisioners": []string{}, "datasources": []string{"ok"}, "protocol_version": "v2",
		})
		return
	}
	if len(os.Args) != 4 || os.Args[1] != "start" {
		fmt.Fprintln(os.Stderr, "usage: fake-plugin describe | start builder|datasource NAME")
		os.Exit(1)
	}
	if os.Getenv("PACKER_PLUGIN_MAGIC_COOKIE") != cookie {
		fmt.Fprintln(os.Stderr, "Please do not execute plugins directly. Packer will execute these for you.")
		os.Exit(1)
	}
	dir, err := ioutil.TempDir("", "fake-plugin")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("5|0|unix|%s\n", path)
	log.Printf("fake plugin %s %s listening", os.Args[2], os.Args[3])
	conn, err := l.Accept()
	if err != nil {
		log.Fatal(err)
	}
	// Closing the listener unlinks the socket; the host kills plugins with SIGKILL, so nothing
	// may be left to clean up at exit.
	l.Close()
	os.RemoveAll(dir)
	cfg := yamux.DefaultConfig()
	// Pings every 50 ms that must be answered within 2 s, or the session dies.
	cfg.KeepAliveInterval = 50 * time.Millisecond
	cfg.ConnectionWriteTimeout = 2 * time.Second
	cfg.LogOutput = os.Stderr
	sess, err := yamux.Server(conn, cfg)
	if err != nil {
		log.Fatal(err)
	}
	b := &broker{sess: sess, pending: map[uint32]chan net.Conn{}}
	go b.run()
	c0, err := b.accept(0)
	if err != nil {
		log.Fatal(err)
	}
	switch os.Args[2] {
	case "builder":
		serve(c0, "Builder", &Builder{name: os.Args[3], b: b})
	case "datasource":
		serve(c0, "Datasource", Datasource{})
	}
	log.Printf("connection closed")
}
