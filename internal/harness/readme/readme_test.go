// Package readme checks that every Go snippet in the README is the body of
// a compiled, runnable Example: a ```go block is preceded by a marker
//
//	<!-- snippet: <file> <name> -->
//
// naming an example file and a region in it between "// readme:begin
// <name>" and "// readme:end"; lines of the region that carry
// "// readme:hide" (the example's own scaffolding) are left out. The test
// fails when a block has no marker or differs from its region.
package readme

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	marker     = regexp.MustCompile(`^<!-- snippet: (\S+) (\S+) -->$`)
	goFence    = regexp.MustCompile("(?i)^(```|~~~)\\s*(go|golang)$")
	closeFence = regexp.MustCompile("^(```|~~~)$")
)

// block is a ```go block of the README with the marker before it.
type block struct {
	file, name string
	text       string
	line       int
}

func TestREADMESnippetsAreExamples(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := goBlocks(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatal("no Go snippets found in the README")
	}
	for _, b := range blocks {
		src, err := os.ReadFile(filepath.Join(root, b.file))
		if err != nil {
			t.Errorf("README line %d: %v", b.line, err)
			continue
		}
		want, err := region(string(src), b.name)
		if err == nil {
			err = inExample(b.file, string(src), b.name)
		}
		if err != nil {
			t.Errorf("README line %d: %s: %v", b.line, b.file, err)
			continue
		}
		if b.text != want {
			t.Errorf("README line %d: the snippet differs from region %q of %s.\nREADME:\n%s\nexample:\n%s", b.line, b.name, b.file, b.text, want)
		}
	}
}

// goBlocks returns the README's ```go blocks with their markers; a block
// without a marker is an error.
func goBlocks(readme string) ([]block, error) {
	lines := strings.Split(readme, "\n")
	var out []block
	for i := 0; i < len(lines); i++ {
		if !goFence.MatchString(strings.TrimSpace(lines[i])) {
			continue
		}
		if i == 0 || !marker.MatchString(lines[i-1]) {
			return nil, fmt.Errorf("README line %d: a ```go block without a <!-- snippet: file name --> marker before it", i+1)
		}
		m := marker.FindStringSubmatch(lines[i-1])
		j := i + 1
		for j < len(lines) && !closeFence.MatchString(strings.TrimSpace(lines[j])) {
			j++
		}
		out = append(out, block{file: m[1], name: m[2], text: strings.Join(lines[i+1:j], "\n"), line: i + 1})
		i = j
	}
	return out, nil
}

// region returns the lines between the markers of name in src, without
// hidden lines, dedented by their common leading tabs.
func region(src, name string) (string, error) {
	lines := strings.Split(src, "\n")
	begin := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "// readme:begin "+name {
			if begin >= 0 {
				return "", fmt.Errorf("region %s: begins twice", name)
			}
			begin = i
		}
	}
	if begin < 0 {
		return "", fmt.Errorf("region %s: no // readme:begin", name)
	}
	var body []string
	for _, l := range lines[begin+1:] {
		if strings.TrimSpace(l) == "// readme:end" {
			return dedent(body), nil
		}
		if !strings.Contains(l, "// readme:hide") {
			body = append(body, l)
		}
	}
	return "", fmt.Errorf("region %s: no // readme:end", name)
}

func dedent(lines []string) string {
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}

// inExample checks that region name of file lies in the body of an
// Example function with an Output comment, in a _test.go file: so that
// go test compiles and runs it.
func inExample(file, src, name string) error {
	if !strings.HasSuffix(file, "_test.go") {
		return fmt.Errorf("%s is not a test file", file)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return err
	}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.TrimSpace(c.Text) != "// readme:begin "+name {
				continue
			}
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil || c.Pos() < fn.Body.Lbrace || c.Pos() > fn.Body.Rbrace {
					continue
				}
				if !strings.HasPrefix(fn.Name.Name, "Example") {
					return fmt.Errorf("region %s is in %s, not in an Example", name, fn.Name.Name)
				}
				if !hasOutput(f, fn) {
					return fmt.Errorf("region %s: %s has no // Output: comment, so it is compiled but not run", name, fn.Name.Name)
				}
				return nil
			}
			return fmt.Errorf("region %s is not inside a function", name)
		}
	}
	return fmt.Errorf("region %s: no // readme:begin comment", name)
}

func hasOutput(f *ast.File, fn *ast.FuncDecl) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > fn.Body.Lbrace && cg.End() < fn.Body.Rbrace && strings.HasPrefix(strings.TrimSpace(cg.List[0].Text), "// Output:") {
			return true
		}
	}
	return false
}
