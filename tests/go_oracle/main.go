// The tests' oracle: Go's own libraries answer what the Python code imitates, one line in, one line out.
//
//	oracle reference   each line an image reference; prints "<domain>\t<path>\t<tag>\t<digest>" as
//	                   distribution/reference's ParseNormalizedNamed reads it (Docker's own parser), or "refused"
//	oracle config-float each line a float64; prints the text the Pulumi CLI stores for it
//	                   (sdk/go/common/resource/config/object.go: encoding/json, read back as a json.Number)
package main

import (
	"bufio"
	_ "crypto/sha256" // go-digest validates only the algorithms linked in, as Docker links them
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/distribution/reference"
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
