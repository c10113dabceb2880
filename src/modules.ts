// The modules every Warbler loads unless [modules] disabled names them, in load order.

import lastActivity from '../xeps/0012-last/index.js';
import disco from '../xeps/0030-disco/index.js';
import muc from '../xeps/0045-muc/index.js';
import privateStorage from '../xeps/0049-private/index.js';
import vcard from '../xeps/0054-vcard/index.js';
import register from '../xeps/0077-register/index.js';
import version from '../xeps/0092-version/index.js';
import caps from '../xeps/0115-caps/index.js';
import contactAddresses from '../xeps/0157-contact-addresses/index.js';
import offline from '../xeps/0160-offline/index.js';
import pep from '../xeps/0163-pep/index.js';
import blocking from '../xeps/0191-blocking/index.js';
import ping from '../xeps/0199-ping/index.js';
import time from '../xeps/0202-time/index.js';
import carbons from '../xeps/0280-carbons/index.js';
import mam from '../xeps/0313-mam/index.js';
import csi from '../xeps/0352-csi/index.js';
import avatarConversion from '../xeps/0398-avatar-conversion/index.js';
import bookmarks from '../xeps/0402-bookmarks/index.js';
import type { Section } from './config/schema.js';
import type { ModuleDefinition } from './core/module.js';
import roster from './im/index.js';

export const BUILTIN_MODULES: readonly ModuleDefinition<never>[] = [
  disco,
  caps,
  contactAddresses,
  ping,
  version,
  time,
  roster,
  blocking,
  offline,
  carbons,
  mam,
  csi,
  lastActivity,
  vcard,
  privateStorage,
  pep,
  bookmarks,
  avatarConversion,
  muc,
  register,
];

/** The config sections the modules declare, for loadConfig and the example file. */
export function moduleSections(
  modules: readonly ModuleDefinition<never>[] = BUILTIN_MODULES,
): Record<string, Section> {
  const sections: Record<string, Section> = {};
  for (const m of modules) if (m.configSection) sections[m.name] = m.configSection;
  return sections;
}
