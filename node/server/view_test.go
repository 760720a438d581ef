package server

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestViewEqualSeesEveryField: publish keeps the old view when equal says
// nothing changed, so a status field equal forgot would go stale on GET
// /status. Each field in turn is set on one side only.
func TestViewEqualSeesEveryField(t *testing.T) {
	base := statusView{}
	require.True(t, base.equal(&statusView{}))

	st := reflect.TypeOf(base.status)
	for i := range st.NumField() {
		f := st.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			v := statusView{}
			fv := reflect.ValueOf(&v.status).Elem().Field(i)
			switch fv.Kind() {
			case reflect.String:
				fv.SetString("x")
			case reflect.Uint64:
				fv.SetUint(1)
			case reflect.Int64:
				fv.SetInt(1)
			case reflect.Float64:
				fv.SetFloat(1)
			case reflect.Bool:
				fv.SetBool(true)
			case reflect.Slice:
				fv.Set(reflect.ValueOf([]string{"x"}))
			default:
				t.Fatalf("field %s of kind %s: teach this test to set it", f.Name, fv.Kind())
			}
			assert.False(t, base.equal(&v), "equal misses %s", f.Name)
			assert.False(t, v.equal(&base), "equal misses %s", f.Name)
			assert.True(t, v.equal(&v))
		})
	}
	t.Run("isLeader", func(t *testing.T) {
		assert.False(t, base.equal(&statusView{isLeader: true}))
	})
	t.Run("wallLeaseUntil", func(t *testing.T) {
		assert.False(t, base.equal(&statusView{wallLeaseUntil: time.Unix(1, 0)}))
	})
}
