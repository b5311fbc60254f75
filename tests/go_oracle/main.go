// The tests' oracle: Go's own libraries answer what the Python code imitates, one line in, one line out.
//
//	oracle reference   each line an image reference; prints "<domain>\t<path>\t<tag>\t<digest>" as
//	                   distribution/reference's ParseNormalizedNamed reads it (Docker's own parser), or "refused"
//	oracle config-float each line a float64; prints the text the Pulumi CLI stores for it
//	                   (sdk/go/common/resource/config/object.go: encoding/json, read back as a json.Number)
//	oracle yaml        each line a JSON string holding a YAML document; prints the document as yaml.v3 decodes it
//	                   into an interface{} (Pulumi's stack files), as JSON: a timestamp as Pulumi's config prints one
//	                   (time.Time.String()), a float as {"$float": "<shortest text>"}; or "refused"
package main

import (
	"bufio"
	_ "crypto/sha256" // go-digest validates only the algorithms linked in, as Docker links them
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/distribution/reference"
	"gopkg.in/yaml.v3"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		switch os.Args[1] {
		case "reference":
			fmt.Fprintln(out, parseReference(in.Text()))
		case "config-float":
			fmt.Fprintln(out, configFloat(in.Text()))
		case "yaml":
			fmt.Fprintln(out, decodeYAML(in.Text()))
		default:
			panic("unknown mode " + os.Args[1])
		}
	}
}

func parseReference(text string) string {
	named, err := reference.ParseNormalizedNamed(text)
	if err != nil {
		return "refused"
	}
	tag, digest := "", ""
	if tagged, ok := named.(reference.Tagged); ok {
		tag = tagged.Tag()
	}
	if digested, ok := named.(reference.Digested); ok {
		digest = digested.Digest().String()
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s", reference.Domain(named), reference.Path(named), tag, digest)
}

func configFloat(text string) string {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		panic(err)
	}
	encoded, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	if i, err := json.Number(encoded).Int64(); err == nil {
		return strconv.FormatInt(i, 10)
	}
	return string(encoded)
}

func decodeYAML(line string) string {
	var text string
	if err := json.Unmarshal([]byte(line), &text); err != nil {
		panic(err)
	}
	var value any
	if err := yaml.Unmarshal([]byte(text), &value); err != nil {
		return "refused"
	}
	converted, ok := canonical(value)
	if !ok {
		return "refused"
	}
	encoded, err := json.Marshal(converted)
	if err != nil {
		panic(err)
	}
	return string(encoded)
}

// canonical makes a decoded value JSON: false where a config cannot hold it (a mapping key that is not text).
func canonical(value any) (any, bool) {
	switch v := value.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, item := range v {
			c, ok := canonical(item)
			if !ok {
				return nil, false
			}
			m[k] = c
		}
		return m, true
	case []any:
		l := make([]any, len(v))
		for i, item := range v {
			c, ok := canonical(item)
			if !ok {
				return nil, false
			}
			l[i] = c
		}
		return l, true
	case float64:
		return map[string]string{"$float": strconv.FormatFloat(v, 'g', -1, 64)}, true
	case time.Time:
		return v.String(), true
	case map[any]any:
		return nil, false
	default:
		return v, true
	}
}
