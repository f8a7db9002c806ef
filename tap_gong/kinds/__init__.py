"""The kinds of Gong stream, each a way of walking Gong, one module each.

- `base.GongStream`: what every stream shares (auth, base URL, answers, retries,
  pacing, pages, page children).
- `full_table.FullTableStream`: a list read whole on every run (users, workspaces,
  settings).
- `page_child.PageChildStream`: records derived from each page its parent reads.
- `windowed.WindowedStream`: window by window, a bookmark after each finished window:
  - `date_time_windows.DateTimeWindowStream`: a range of instants cut into windows
    (calls and the call-derived streams), the bookmark the end of the last finished
    window;
  - `company_days.CompanyDayStream`: company days, complete days only (the stats
    streams), the bookmark the last finished day.

A stream is then a small declarative class (tap_gong/streams.py): its endpoint, keys,
and how a window goes into the request.
"""
