package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher/ignorefile"
	"github.com/tonistiigi/fsutil"
)

// ignorePatterns reads the .dockerignore that applies, as Docker chooses it: <Dockerfile>.dockerignore
// first, else the one at the context's root (https://docs.docker.com/build/concepts/context/#filename-and-location).
func ignorePatterns(contextDir, dockerfile string) ([]string, error) {
	for _, candidate := range []string{dockerfile + ".dockerignore", filepath.Join(contextDir, ".dockerignore")} {
		f, err := os.Open(candidate)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("cannot parse %s: %w", candidate, err)
		}
		return patterns, nil
	}
	return nil, nil
}

// contextDigest is the change detection of pulumi-docker's Image: a SHA-256 over, for the
// Dockerfile (under the name "Dockerfile", wherever it is) and then every file the context sends
// (the .dockerignore applied, in walk order), its slash-separated relative name, its mode and
// the SHA-256 of its content (of its target path for a symlink), each entry ended by a NUL.
func contextDigest(contextDir, dockerfile string) (string, error) {
	patterns, err := ignorePatterns(contextDir, dockerfile)
	if err != nil {
		return "", err
	}
	var acc bytes.Buffer
	add := func(file, name string, mode fs.FileMode) error {
		h := sha256.New()
		switch {
		case mode.Type() == fs.ModeSymlink:
			target, err := filepath.EvalSymlinks(file)
			if err != nil {
				return fmt.Errorf("cannot follow the symlink %s: %w", file, err)
			}
			h.Write([]byte(filepath.ToSlash(filepath.Clean(target))))
		case mode.IsRegular():
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
		}
		acc.WriteString(filepath.ToSlash(path.Clean(name)))
		acc.WriteString(mode.String())
		acc.Write(h.Sum(nil))
		acc.WriteByte(0)
		return nil
	}
	if err := add(dockerfile, "Dockerfile", 0); err != nil {
		return "", fmt.Errorf("cannot read the Dockerfile %s: %w", dockerfile, err)
	}
	err = fsutil.Walk(context.Background(), contextDir, &fsutil.FilterOpt{ExcludePatterns: patterns},
		func(rel string, info fs.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if info.IsDir() {
				return nil
			}
			return add(filepath.Join(contextDir, rel), rel, info.Mode())
		})
	if err != nil {
		return "", fmt.Errorf("cannot read the build context %s: %w", contextDir, err)
	}
	sum := sha256.Sum256(acc.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

// relativeDockerfile is the Dockerfile's path inside the context (slash-separated), and whether
// it is inside at all.
func relativeDockerfile(contextDir, dockerfile string) (string, bool, error) {
	absContext, err := filepath.Abs(contextDir)
	if err != nil {
		return "", false, err
	}
	absFile, err := filepath.Abs(dockerfile)
	if err != nil {
		return "", false, err
	}
	rel, err := filepath.Rel(absContext, absFile)
	if err != nil {
		return "", false, err
	}
	rel = filepath.ToSlash(rel)
	return rel, rel != ".." && !strings.HasPrefix(rel, "../"), nil
}
