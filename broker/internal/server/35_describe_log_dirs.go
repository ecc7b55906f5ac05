// DescribeLogDirs: versions 0-4. A null topic list describes every
// partition; v4+ adds each dir's total and usable bytes.

package server

import (
	"path/filepath"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeLogDirs(r *request, req *kmsg.DescribeLogDirsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	resp.SetVersion(req.Version)
	want := map[string]map[int32]bool{}
	for _, rt := range req.Topics {
		m := map[int32]bool{}
		for _, p := range rt.Partitions {
			m[p] = true
		}
		want[rt.Topic] = m
	}
	for _, dir := range s.config().LogDirs {
		abs, _ := filepath.Abs(dir)
		sd := kmsg.NewDescribeLogDirsResponseDir()
		sd.Dir = abs
		var fs syscall.Statfs_t
		if err := syscall.Statfs(dir, &fs); err == nil {
			sd.TotalBytes = int64(fs.Blocks) * int64(fs.Bsize)
			sd.UsableBytes = int64(fs.Bavail) * int64(fs.Bsize)
		} else {
			sd.TotalBytes, sd.UsableBytes = -1, -1
		}
		for _, t := range s.parts.all() {
			parts := want[t.name]
			if req.Topics != nil && parts == nil {
				continue
			}
			st := kmsg.NewDescribeLogDirsResponseDirTopic()
			st.Topic = t.name
			s.parts.mu.RLock()
			tp := t.parts
			s.parts.mu.RUnlock()
			for _, p := range tp {
				if filepath.Dir(p.dir) != filepath.Clean(dir) || (parts != nil && !parts[p.index]) {
					continue
				}
				sp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
				sp.Partition = p.index
				sp.Size = p.log.Size()
				st.Partitions = append(st.Partitions, sp)
			}
			if len(st.Partitions) > 0 {
				sd.Topics = append(sd.Topics, st)
			}
		}
		resp.Dirs = append(resp.Dirs, sd)
	}
	return resp, nil
}
