package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// KeepImageTags is how many node image tags PruneImages keeps even when no
// container uses them: the most recently built or reused. Three lets a few
// checkouts or branches take turns without rebuilding (an image is about
// 11 MB), and keeps the image of a run on another host, which the host locks
// cannot see, unless three newer ones were built since it started.
const KeepImageTags = 3

// untaggedMinAge is how old an untagged node image must be before
// PruneImages removes it: younger, it may be a build on another host between
// committing its image and tagging it.
const untaggedMinAge = 10 * time.Minute

// PruneImages ends this process's hold on the node images (BuildImage took
// it; the process must not create containers from its image afterwards) and,
// when no other faultline process on this host holds one, removes node image
// tags that no container uses, running or stopped, with any labels, except
// the KeepImageTags most recently built or reused; then untagged node images
// no container uses (twins built at the same time on other hosts). It returns
// how many images it removed, and ErrImagesInUse, having removed nothing,
// while another process holds them: the last one to finish prunes.
func PruneImages(ctx context.Context) (int, error) {
	lock, err := nodeImages.takeExclusive()
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	cli, err := newClient(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	return pruneUnusedImages(ctx, cli, nodeImageSet, KeepImageTags, time.Now())
}

// imageSet names a family of images: tagged in repository, and labelled
// label=1 (which also finds them once they lost their tag).
type imageSet struct{ repository, label string }

var nodeImageSet = imageSet{repository: ImageRepository, label: imageLabel}

// pruneUnusedImages is PruneImages' policy; the caller holds the node images
// exclusively.
func pruneUnusedImages(ctx context.Context, cli *client.Client, set imageSet, keep int, now time.Time) (int, error) {
	repository := set.repository
	containers, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	used := map[string]bool{}
	for _, c := range containers {
		used[c.ImageID] = true
	}
	images, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", repository))})
	if err != nil {
		return 0, fmt.Errorf("list %s images: %w", repository, err)
	}
	type taggedImage struct {
		tag, id  string
		lastUsed time.Time
	}
	var tags []taggedImage
	for _, img := range images {
		lastUsed := time.Unix(img.Created, 0)
		if info, err := cli.ImageInspect(ctx, img.ID); err == nil && !info.Metadata.LastTagTime.IsZero() {
			lastUsed = info.Metadata.LastTagTime
		}
		for _, tag := range img.RepoTags {
			if strings.HasPrefix(tag, repository+":") {
				tags = append(tags, taggedImage{tag: tag, id: img.ID, lastUsed: lastUsed})
			}
		}
	}
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].lastUsed.After(tags[j].lastUsed) })
	removed := 0
	var errs []error
	remove := func(ref string) {
		// Never forced: the engine also refuses to untag the last name of
		// an image a container uses.
		_, err := cli.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
		switch {
		case err == nil:
			removed++
		case errdefs.IsConflict(err) || errdefs.IsNotFound(err):
			// Used after all, or removed meanwhile.
		default:
			errs = append(errs, fmt.Errorf("remove image %s: %w", ref, err))
		}
	}
	for i, t := range tags {
		if i >= keep && !used[t.id] {
			remove(t.tag)
		}
	}
	untagged, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("dangling", "true"), filters.Arg("label", set.label+"=1"))})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("list untagged node images: %w", err))...)
	}
	for _, img := range untagged {
		if !used[img.ID] && now.Sub(time.Unix(img.Created, 0)) >= untaggedMinAge {
			remove(img.ID)
		}
	}
	return removed, errors.Join(errs...)
}
