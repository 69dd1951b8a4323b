/** Property tests of the deals models on random CRMs: see models/properties.shared.ts. */
import { describeProperties } from './properties.shared';

describeProperties('deals');
