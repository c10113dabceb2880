// The modules every Warbler loads unless [modules] disabled names them, in load order.

import disco from '../xeps/0030-disco/index.js';
import version from '../xeps/0092-version/index.js';
import ping from '../xeps/0199-ping/index.js';
import time from '../xeps/0202-time/index.js';
import type { Section } from './config/schema.js';
import type { ModuleDefinition } from './core/module.js';

export const BUILTIN_MODULES: readonly ModuleDefinition<never>[] = [disco, ping, version, time];

/** The config sections the modules declare, for loadConfig and the example file. */
export function moduleSections(
  modules: readonly ModuleDefinition<never>[] = BUILTIN_MODULES,
): Record<string, Section> {
  const sections: Record<string, Section> = {};
  for (const m of modules) if (m.configSection) sections[m.name] = m.configSection;
  return sections;
}
