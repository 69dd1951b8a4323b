/** Property tests of the revenue models on random CRMs: see models/properties.shared.ts. */
import { describeProperties } from './properties.shared';

describeProperties('revenue');
