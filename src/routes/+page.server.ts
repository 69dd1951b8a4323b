import { catalog } from '../../models/index';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = () => ({
  models: Object.values(catalog).map((m) => ({ name: m.name, title: m.title, definition: m.definition }))
});
