package app_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The floors of shared/, lowest first: a package may import its own floor
// and the floors below it, never one above.
var floors = []string{"minipay/shared/kernel/", "minipay/shared/edge/", "minipay/shared/capabilities/", "minipay/shared/wiring/"}

const (
	localStack = "minipay/localstack"
	wiring     = "minipay/shared/wiring/"
	capability = "minipay/shared/capabilities/"
	edge       = "minipay/shared/edge/"
)

// floor is p's floor (-1: not a shared/ package).
func floor(p string) int {
	for i, f := range floors {
		if strings.HasPrefix(p, f) {
			return i
		}
	}
	return -1
}

type goPackage struct {
	ImportPath string
	Imports    []string // what the package's own (non-test) files import
	Deps       []string // everything it depends on, transitively
}

// listPackages runs `go list -json` over the module from the repo root.
func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = "../../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	for dec := json.NewDecoder(strings.NewReader(string(out))); ; {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// floorViolations is every import that breaks the floors:
//   - a shared/ package imports a floor above its own (so the kernel imports
//     nothing above it), or anything under localstack/;
//   - a function imports anything but the wiring and the one package whose
//     handler it starts (a capability; the edge for the fallback route), or
//     depends on localstack/ at any depth (no Lambda ships local tooling).
func floorViolations(pkgs []goPackage) []string {
	var bad []string
	for _, p := range pkgs {
		switch {
		case strings.HasPrefix(p.ImportPath, "minipay/shared/"):
			own := floor(p.ImportPath)
			if own < 0 {
				bad = append(bad, p.ImportPath+": not on a floor (shared/ holds only "+strings.Join(floors, ", ")+")")
			}
			for _, imp := range p.Imports {
				if f := floor(imp); f > own {
					bad = append(bad, p.ImportPath+" imports "+imp+", a floor above its own")
				}
				if strings.HasPrefix(imp, localStack) {
					bad = append(bad, p.ImportPath+" imports local tooling "+imp)
				}
			}
		case strings.HasPrefix(p.ImportPath, "minipay/functions/"):
			started := 0
			for _, imp := range p.Imports {
				switch {
				case strings.HasPrefix(imp, wiring):
				case strings.HasPrefix(imp, capability), strings.HasPrefix(imp, edge):
					if started++; started > 1 {
						bad = append(bad, p.ImportPath+" imports a second handler package "+imp)
					}
				case strings.HasPrefix(imp, "minipay/"):
					bad = append(bad, p.ImportPath+" imports "+imp+": a function imports only the wiring and its capability")
				}
			}
			for _, dep := range p.Deps {
				if strings.HasPrefix(dep, localStack) {
					bad = append(bad, p.ImportPath+" depends on local tooling "+dep)
				}
			}
		}
	}
	return bad
}

func TestImportsKeepTheFloors(t *testing.T) {
	for _, v := range floorViolations(listPackages(t)) {
		t.Error(v)
	}
}

// The rule itself catches each kind of break.
func TestFloorViolationsAreFound(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkg  goPackage
	}{
		{"kernel imports a capability", goPackage{ImportPath: "minipay/shared/kernel/ledger", Imports: []string{"minipay/shared/capabilities/notify"}}},
		{"edge imports the wiring", goPackage{ImportPath: "minipay/shared/edge/httpapi", Imports: []string{"minipay/shared/wiring/app"}}},
		{"product imports local tooling", goPackage{ImportPath: "minipay/shared/capabilities/merchant", Imports: []string{"minipay/localstack/emulator"}}},
		{"package off the floors", goPackage{ImportPath: "minipay/shared/misc"}},
		{"function imports the kernel", goPackage{ImportPath: "minipay/functions/charge", Imports: []string{wiring + "app", "minipay/shared/kernel/ledger"}}},
		{"function imports two capabilities", goPackage{ImportPath: "minipay/functions/charge", Imports: []string{wiring + "app", capability + "accounts", capability + "users"}}},
		{"function depends on local tooling", goPackage{ImportPath: "minipay/functions/charge", Imports: []string{wiring + "app"}, Deps: []string{"minipay/localstack/capacity"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v := floorViolations([]goPackage{tc.pkg}); len(v) == 0 {
				t.Errorf("%+v: no violation found", tc.pkg)
			}
		})
	}
	if v := floorViolations([]goPackage{{ImportPath: "minipay/shared/capabilities/merchant", Imports: []string{"minipay/shared/kernel/ledger", "minipay/shared/edge/httpapi", "minipay/shared/capabilities/notify"}}}); len(v) != 0 {
		t.Errorf("a capability importing lower floors and a sibling: %v", v)
	}
}
