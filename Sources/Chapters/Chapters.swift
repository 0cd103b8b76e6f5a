// The code of this module is generated at build time by the Tangle plugin
// from Chapters/*.md (one file per section plus `allSections`). Nothing else
// belongs here: the Markdown is the single source of every cell.
